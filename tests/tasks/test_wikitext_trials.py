"""WikiText trials through the runner and the CLI: 2-process DDP equals one process, a killed
trial resumes from its checkpoint to the same result, the same trial twice gives the same
metrics, and missing data fails fast with one line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main
from bench.engine.runner import run_trial
from bench.ledger.store import Ledger
from bench.trial.config import Trial
from tests.bench.helpers import REPO, comparable, wdbench
from tests.tasks.test_wikitext import HELDOUT

# Short smoke trials: 10 steps, evaluations at 0, 5, 10; 125 validation blocks (an odd count,
# so DDP pads the last evaluation batch and gather_for_metrics must drop the padding).
SHORT = ["--set", "steps=10", "--set", "eval_every=5", "--set", "task.max_eval_tokens=8000"]


@pytest.fixture(scope="module")
def data_dir() -> str:
    if not (HELDOUT / "wiki.train.tokens").is_file():
        pytest.skip(f"real WikiText files not found at {HELDOUT} (set WDBENCH_SHARED_DATA)")
    return str(HELDOUT)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("wikitext-cache")


def _env(cache: Path) -> dict[str, str]:
    return {"WDBENCH_CACHE": str(cache), "OMP_NUM_THREADS": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _record(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.ddp
@pytest.mark.e2e
def test_ddp_two_processes_match_one(data_dir, cache, tmp_path):
    args = ["run", "--task", "wikitext", "--optimizer", "adamw", "--budget", "smoke",
            "--data-dir", data_dir, "--json", "--quiet", *SHORT]
    single = wdbench(*args, "--out", str(tmp_path / "one"), env=_env(cache), timeout=300)
    assert single.returncode == 0, single.stderr
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "ACCELERATE_USE_CPU": "true", **_env(cache)}
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
              "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
              "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
              "-m", "bench", *args, "--out", str(tmp_path / "two")]
    ddp = subprocess.run(launch, cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    one, two = _record(single.stdout), _record(ddp.stdout)
    assert (one["env"]["num_processes"], two["env"]["num_processes"]) == (1, 2)
    assert one["status"] == two["status"] == "done"
    for key in ("val_loss", "val_perplexity", "test_perplexity", "train_loss", "linf_ratio"):
        assert two["final"][key] == pytest.approx(one["final"][key], rel=1e-5), key
    # Every validation token counted once in both (no DDP padding in the mean).
    assert [p["val_perplexity"] for p in two["curve"]] == pytest.approx(
        [p["val_perplexity"] for p in one["curve"]], rel=1e-5)


def _trial(**settings) -> Trial:
    base = Trial(task="wikitext", optimizer="adamw", lr=3e-3, weight_decay=0.1, budget="smoke")
    return base.with_settings({"steps": 10, "eval_every": 5, "task.max_eval_tokens": 8000,
                               **settings})


CRASH = """
import os, sys
from bench.trial.config import Trial
from bench.engine.runner import run_trial
from tasks.wikitext import WikiTextTask

original = WikiTextTask.loss
def crashing(self, model, batch):
    crashing.calls += 1
    # Calls: 2 probe batches at step 0, steps 1-5, 2 probe batches at step 5 (checkpoint
    # saved after it), then steps 6 and 7: die inside step 7.
    if crashing.calls == 11:
        os._exit(9)  # a hard kill mid-trial: no cleanup, no record
    return original(self, model, batch)
crashing.calls = 0
WikiTextTask.loss = crashing
run_trial(Trial.from_dict(eval(sys.argv[1])), sys.argv[2], data_dir=sys.argv[3],
          cache_dir=sys.argv[4], show_progress=False)
"""


@pytest.mark.e2e
def test_same_trial_twice_and_resumed_trial_give_identical_metrics(data_dir, cache, tmp_path):
    trial = _trial(checkpoint_every=5)
    first = run_trial(trial, tmp_path / "a", data_dir=data_dir, cache_dir=str(cache),
                      show_progress=False)
    again = run_trial(trial, tmp_path / "b", data_dir=data_dir, cache_dir=str(cache),
                      show_progress=False)
    assert first["status"] == "done"
    assert comparable(again) == comparable(first)

    out = tmp_path / "resumed"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", CRASH, repr(trial.to_dict()), str(out),
                           data_dir, str(cache)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 9, proc.stderr[-3000:]
    ledger = Ledger(out)
    assert not ledger.has(trial.id)
    progress = json.loads((ledger.checkpoint_dir(trial.id) / "latest" / "progress.json")
                          .read_text())
    assert progress["step"] == 5
    resumed = run_trial(trial, out, data_dir=data_dir, cache_dir=str(cache),
                        show_progress=False)
    assert comparable(resumed) == comparable(first)


def test_cli_without_data_fails_fast_with_one_line(tmp_path, monkeypatch, capsys, no_hub):
    # The point is failing before a hub call (each hangs ~25 s offline) or any data work:
    # `no_hub` fails the test on a connection or a use of `datasets`, and the cache stays
    # empty (no tokenizer trained, nothing tokenized).
    cache = tmp_path / "cache"
    monkeypatch.setenv("WDBENCH_CACHE", str(cache))
    monkeypatch.setenv("WDBENCH_DATA_WIKITEXT", "")
    assert main(["run", "--task", "wikitext", "--optimizer", "adamw", "--budget", "smoke",
                 "--out", str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "--data-dir" in lines[0] and "WDBENCH_DATA_WIKITEXT" in lines[0]
    assert not (tmp_path / "out" / "trials").exists()
    assert not cache.exists() or not any(cache.rglob("*"))
