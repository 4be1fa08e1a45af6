"""`make gpu-check`'s script (bench/perf/gpu.py) runs every stage: here its CPU dry run, so it
cannot rot between the rare sessions with a GPU."""

import json
import os
import subprocess
import sys

import pytest
import torch

from bench.perf.__main__ import main as perf_main
from bench.perf.gpu import STAGES
from bench.perf.gpu_stages import generated_wikitext
from bench.perf.optimizer_step import nominal_bytes
from optimizers.builtins import GRID
from tests.bench.helpers import REPO


def _gpu_check(*args, timeout=600):
    # Generated text whatever this environment holds: $WDBENCH_DATA_WIKITEXT's real files
    # would add only their tokenizer's training to the same stages.
    env = {k: v for k, v in os.environ.items() if k != "WDBENCH_DATA_WIKITEXT"}
    return subprocess.run([sys.executable, "-m", "bench.perf", "gpu", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout,
                          env={**env, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                               "PYTHONPATH": str(REPO)})


@pytest.mark.gpu_check
@pytest.mark.e2e
def test_dry_run_runs_every_stage_and_writes_both_reports(tmp_path):
    proc = _gpu_check("--dry-run", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "gpu-check.json").read_text())
    assert report["dry_run"] is True
    assert [s["name"] for s in report["stages"]] == list(STAGES)
    assert {s["name"]: s["status"] for s in report["stages"]} == dict.fromkeys(STAGES, "ok")
    md = (tmp_path / "gpu-check.md").read_text()
    for row in GRID:  # every built-in the step benchmark covers
        assert f"| {row.name} " in md, row.name
    by_name = {s["name"]: s for s in report["stages"]}
    assert by_name["small_grid"]["data"]["runs"][1]["counts"]["done"] == 2
    assert by_name["wikitext"]["data"]["loops"]["bare loop (bf16)"]["tokens_per_s"] > 0
    stacked = by_name["stacked"]["data"]
    rows = stacked["rows"]
    assert {r["trials"] for r in rows} == {1, 2}  # the dry run's sizes
    for size in (1, 2):  # the engine's timed choice, then the other strategy
        chosen, other = [r for r in rows if r["trials"] == size]
        assert chosen["engine_choice"] and not other["engine_choice"]
        assert {chosen["strategy"], other["strategy"]} == {"vmap", "loop"}
        assert stacked["engine_choice"][str(size)] == chosen["strategy"]
    for r in rows:
        assert r["status"] == "ok" and r["tokens_per_s"] > 0 and r["vs_sequential"] > 0
        assert r["peak_bytes"] is None  # measured on a GPU only
    assert stacked["lone"]["tokens_per_s"] > 0
    assert "| 2 |" in md.split("## stacked")[1]


def _gpu_check_here(capsys, *args) -> tuple[int, str]:
    """`python -m bench.perf gpu ARGS` in this process (its refusals come before any work, so
    a child would only add its start-up): the exit status and stderr."""
    try:
        code = perf_main(["gpu", *args])
    except SystemExit as stop:  # argparse's refusal
        code = stop.code
    return code, capsys.readouterr().err


@pytest.mark.gpu_check
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without a GPU")
def test_without_a_gpu_the_real_check_refuses_with_the_fix(tmp_path, capsys):
    code, err = _gpu_check_here(capsys, "--out", str(tmp_path))
    assert code == 2
    assert "--dry-run" in err and not (tmp_path / "gpu-check.md").exists()


@pytest.mark.gpu_check
def test_unknown_stage_is_refused(tmp_path, capsys):
    code, err = _gpu_check_here(capsys, "--dry-run", "--stages", "warp_drive", "--out",
                                str(tmp_path))
    assert code == 2 and "unknown stage 'warp_drive'" in err
    assert not (tmp_path / "gpu-check.md").exists()


def test_generated_wikitext_has_the_official_layout(tmp_path):
    generated_wikitext(tmp_path, 1000)
    for split in ("train", "valid", "test"):
        assert (tmp_path / f"wiki.{split}.raw").stat().st_size > 0
    assert len((tmp_path / "wiki.train.raw").read_text().split()) > 1000


def test_nominal_bytes_count_fp32_state_beside_bf16_parameters():
    p = torch.nn.Parameter(torch.zeros(10, dtype=torch.bfloat16))
    opt = torch.optim.SGD([p], lr=0.1)
    opt.state[p]["momentum_buffer"] = torch.zeros(10, dtype=torch.float32)
    assert nominal_bytes(opt, [p]) == 10 * (3 * 2 + 2 * 4)
