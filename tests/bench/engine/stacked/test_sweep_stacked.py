"""`wdbench sweep` with stacked groups: records equal a `--no-stack` sweep's, `--stack-size`
caps the groups, an MLP and the smoke GPT stack in a sweep, a BatchNorm task falls back with
its reason said once, and a SIGKILLed stacked sweep resumes to the uninterrupted ledger."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.ledger.store import Ledger, load_trials
from tests.bench.engine.stacked.helpers import F64, largest_difference
from tests.bench.engine.stacked.test_models import corpus_dir  # noqa: F401  (fixture)
from tests.bench.helpers import REPO
from tests.tasks.image_fixtures import write_image_parquet

QUADRATIC = f"""
task: "{F64}"
budget: smoke
schedule: inverse_sqrt
steps: 100
eval_every: 25
seeds: [0, 1]
optimizers:
  adamw: {{lr: [0.01, 0.05], weight_decay: [1.0], betas: [0.9, 0.99]}}
  lion:  {{lr: [0.01, 0.05], weight_decay: [2.0]}}
"""


# `e2e`: a whole sweep of a real task compared with another whole sweep (the engine-level
# equivalences, members equal lone runs, are tests/bench/stacked/test_loop.py and
# test_models.py).


class Result:
    def __init__(self, returncode: int, stderr: str) -> None:
        self.returncode, self.stderr = returncode, stderr


@pytest.fixture
def sweep(capsys):
    """`wdbench sweep ARGS` in this process (a subprocess would spend seconds importing)."""
    from bench.cli import main

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(["sweep", *args])
        return Result(code, capsys.readouterr().err)

    return run


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


def records(out: Path) -> dict[str, dict]:
    return {r["id"]: r for r in Ledger(out).records()}


def assert_same_ledgers(stacked: Path, alone: Path, rtol: float) -> None:
    a, b = records(alone), records(stacked)
    assert a.keys() == b.keys() and a
    for trial_id in a:
        worst, where = largest_difference(a[trial_id], b[trial_id])
        assert worst <= rtol, (trial_id, where, worst)


@pytest.mark.e2e
def test_stacked_sweep_equals_the_no_stack_sweep(tmp_path, sweep):
    suite = write(tmp_path, QUADRATIC)
    res = sweep(str(suite), "--out", str(tmp_path / "stacked"))
    assert res.returncode == 0, res.stderr
    assert "8 of them in 2 stacked group(s)" in res.stderr
    res = sweep(str(suite), "--out", str(tmp_path / "alone"), "--no-stack")
    assert res.returncode == 0, res.stderr
    assert "stacked group" not in res.stderr
    assert_same_ledgers(tmp_path / "stacked", tmp_path / "alone", 1e-10)
    assert all("stacked" not in r for r in records(tmp_path / "alone").values())
    frame = load_trials(tmp_path / "stacked")
    assert set(frame.stack_size) == {4} and frame.stack_group.nunique() == 2
    assert frame.groupby("optimizer").stack_group.nunique().to_dict() == {"adamw": 1, "lion": 1}
    # A second sweep finds every trial finished, stacked or not.
    again = sweep(str(suite), "--out", str(tmp_path / "stacked"), "--quiet")
    assert again.returncode == 0 and not list((tmp_path / "stacked").glob("checkpoints/*"))


@pytest.mark.e2e
def test_stack_size_caps_the_groups_and_the_executor_key_sets_it(tmp_path, sweep):
    suite = write(tmp_path, QUADRATIC.replace("steps: 100", "steps: 20")
                  + "executor: {stack_size: 2}\n")
    res = sweep(str(suite), "--out", str(tmp_path / "three"), "--stack-size", "3")
    assert res.returncode == 0, res.stderr
    # 4 trials an optimizer: a group of 3 and one alone (a group of 1 is no group)
    sizes = sorted(load_trials(tmp_path / "three").stack_size.fillna(1))
    assert sizes == [1, 1, 3, 3, 3, 3, 3, 3]
    res = sweep(str(suite), "--out", str(tmp_path / "suite"))
    assert res.returncode == 0, res.stderr
    assert set(load_trials(tmp_path / "suite").stack_size) == {2}


def test_stack_size_must_be_positive(tmp_path, sweep):
    res = sweep(str(write(tmp_path, QUADRATIC)), "--stack-size", "0",
                  "--out", str(tmp_path / "out"))
    assert res.returncode == 2
    assert "stack_size must be >= 1" in res.stderr and not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory) -> Path:
    return write_image_parquet(tmp_path_factory.mktemp("mnist"), "mnist", n_train=120,
                               n_test=20)


def image_suite(tmp_path: Path, **options) -> Path:
    opts = {"task.train_size": 64, "task.val_size": 16, "task.test_size": 16, **options}
    settings = ", ".join(f"{k}: {v}" for k, v in opts.items())
    return write(tmp_path, f"""
task: mnist
budget: smoke
steps: 6
eval_every: 3
seeds: [0, 1]
settings: {{{settings}}}
optimizers:
  adamw: {{lr: [1.0e-3, 3.0e-3], weight_decay: [0.1]}}
  signgd_wd: {{lr: [1.0e-3], weight_decay: [0.1]}}
""")


@pytest.mark.e2e
def test_an_mlp_task_stacks_in_a_sweep(tmp_path, sweep, mnist_dir):
    suite = image_suite(tmp_path, **{"task.model": "mlp", "task.width": 16})
    common = ("--data-dir", str(mnist_dir))
    res = sweep(str(suite), "--out", str(tmp_path / "stacked"), *common)
    assert res.returncode == 0, res.stderr
    assert "6 of them in 2 stacked group(s)" in res.stderr
    res = sweep(str(suite), "--out", str(tmp_path / "alone"), "--no-stack", *common)
    assert res.returncode == 0, res.stderr
    assert_same_ledgers(tmp_path / "stacked", tmp_path / "alone", 1e-5)  # float32, vmap


@pytest.mark.e2e
def test_a_batchnorm_task_falls_back_and_says_why_once(tmp_path, sweep, mnist_dir):
    suite = image_suite(tmp_path, **{"task.model": "cnn", "task.width": 2,
                                     "task.norm": "batch", "task.augment": "false"})
    res = sweep(str(suite), "--out", str(tmp_path / "out"), "--data-dir",
                  str(mnist_dir))
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("BatchNorm") == 1, res.stderr
    assert "runs one by one" in res.stderr
    found = records(tmp_path / "out")
    assert len(found) == 6 and all("stacked" not in r for r in found.values())
    assert {r["status"] for r in found.values()} == {"done"}


@pytest.mark.e2e
def test_the_smoke_gpt_stacks_in_a_sweep(tmp_path, sweep, corpus_dir):  # noqa: F811
    suite = write(tmp_path, """
task: wikitext
budget: smoke
steps: 4
eval_every: 2
seeds: [0, 1]
settings: {task.seq_len: 16, task.max_eval_tokens: 256}
optimizers:
  adamw: {lr: [1.0e-3, 3.0e-3], weight_decay: [0.1]}
""")
    common = ("--data-dir", str(corpus_dir))
    res = sweep(str(suite), "--out", str(tmp_path / "stacked"), *common)
    assert res.returncode == 0, res.stderr
    assert "4 of them in 1 stacked group(s)" in res.stderr
    res = sweep(str(suite), "--out", str(tmp_path / "alone"), "--no-stack", *common)
    assert res.returncode == 0, res.stderr
    assert_same_ledgers(tmp_path / "stacked", tmp_path / "alone", 1e-4)  # float32, vmap


@pytest.mark.e2e
def test_a_sigkilled_stacked_sweep_resumes_to_the_uninterrupted_ledger(tmp_path, sweep):
    text = QUADRATIC.replace("steps: 100", "steps: 300").replace(
        "eval_every: 25", "eval_every: 25\ncheckpoint_every: 50")
    suite = write(tmp_path, text)
    reference = tmp_path / "reference"
    assert sweep(str(suite), "--out", str(reference), "--quiet").returncode == 0
    out = tmp_path / "killed"
    # The group waits before its next batch once its first checkpoint is written: killed
    # there, mid-group, whatever the machine's speed.
    checkpoint = str(out / "checkpoints" / "g*" / "latest" / "members.json")
    proc = subprocess.Popen([sys.executable, "-m", "bench", "sweep", str(suite), "--out",
                             str(out), "--quiet"], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            env={**os.environ, "WDBENCH_TEST_HANG_ONCE": checkpoint})
    deadline = time.monotonic() + 300  # only against a broken build hanging the suite
    while (not list(out.glob("checkpoints/g*/latest/members.json"))
           and time.monotonic() < deadline and proc.poll() is None):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(Ledger(out).ids()) < 8, "the sweep should have been killed mid-way"
    assert list(out.glob("checkpoints/g*/latest/members.json"))
    again = sweep(str(suite), "--out", str(out), "--quiet")
    assert again.returncode == 0, again.stderr
    assert_same_ledgers(out, reference, 0.0)


def test_a_group_holds_the_claims_of_all_its_members(tmp_path, sweep, monkeypatch):
    import bench.engine.stacked.loop as loop
    from bench.ledger.trial_claims import ClaimStore

    seen: list[set[str]] = []
    original = loop.run_group

    def watching(group, out_dir, **kw):
        seen.append({c.trial_id for c in ClaimStore(out_dir).live()})
        return original(group, out_dir, **kw)

    monkeypatch.setattr(loop, "run_group", watching)
    suite = write(tmp_path, QUADRATIC.replace("steps: 100", "steps: 10"))
    assert sweep(str(suite), "--out", str(tmp_path / "out"), "--quiet").returncode == 0
    frame = load_trials(tmp_path / "out")
    assert sorted(seen, key=sorted) == sorted(
        (set(ids) for ids in frame.groupby("stack_group").id.apply(list)), key=sorted)
    assert not ClaimStore(tmp_path / "out").live()


def test_a_failing_group_runs_its_trials_one_by_one_and_says_why(tmp_path, sweep,
                                                                 monkeypatch):
    import bench.engine.stacked.loop as loop

    def broken(*args, **kw):
        raise RuntimeError("boom")

    monkeypatch.setattr(loop, "run_group", broken)
    suite = write(tmp_path, QUADRATIC.replace("steps: 100", "steps: 10"))
    res = sweep(str(suite), "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("a stacked group failed (RuntimeError: boom); its trials run "
                            "one by one") == 1
    found = records(tmp_path / "out")
    assert len(found) == 8 and all("stacked" not in r for r in found.values())
