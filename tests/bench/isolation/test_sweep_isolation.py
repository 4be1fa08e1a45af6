"""One trial's code cannot reach the trials after it: what a submission changes in its process
(default dtype, device, grad mode, seeds, threads) is put back after its trial, and a thread it
leaves running does not keep the sweep from ending."""

import json

import pytest

from bench.cli import main
from bench.isolation import process_state
from bench.isolation.threads import GRACE_ENV
from tests.bench.defective_optimizers import PROCESS_STATE_CHANGES
from tests.bench.helpers import TOY, comparable, wdbench
from tests.bench.isolation.restore import restored_process

DEFECTIVE = "tests.bench.defective_optimizers"
BASELINE = "  adamw: {lr: 0.01, weight_decay: 0.1}\n"


def _suite(tmp_path, grid: str) -> str:
    path = tmp_path / "suite.yaml"
    path.write_text(f'task: "{TOY}"\nbudget: smoke\noptimizers:\n{grid}')
    return str(path)


def _records(out) -> dict[str, dict]:
    return {r["config"]["optimizer"]: r
            for r in (json.loads(p.read_text()) for p in (out / "trials").glob("*.json"))}


def _seed_all(seed: int) -> None:
    import random

    import numpy as np
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


@pytest.fixture(scope="module")
def baseline_alone(tmp_path_factory) -> dict:
    """The baseline trial's record from a sweep of its own."""
    tmp_path = tmp_path_factory.mktemp("alone")
    assert main(["sweep", _suite(tmp_path, BASELINE), "--out", str(tmp_path / "out"),
                 "--quiet"]) == 0
    return _records(tmp_path / "out")["adamw"]


@pytest.mark.e2e  # a sweep with a submission runs its trials in a worker process
@pytest.mark.parametrize("name", list(PROCESS_STATE_CHANGES))
def test_a_trial_that_changes_process_state_leaves_the_next_trial_as_it_would_be(
        tmp_path, name, baseline_alone):
    """The submission's trial runs first, then the baseline's in the same worker process (one
    worker: a sweep with a submission runs its trials in one worker process): the baseline's
    record is the one it gets alone, and the sweep's own process ends as it began."""
    suite = _suite(tmp_path, f'  "{DEFECTIVE}:{name}": {{lr: 0.01, weight_decay: 0.1}}\n'
                             + BASELINE)
    out = tmp_path / "out"
    with restored_process():
        _seed_all(98765)  # not the state a seeded trial leaves behind
        saved = process_state.snapshot()
        main(["sweep", suite, "--out", str(out), "--workers", "1", "--quiet"])
        assert process_state.changed(saved) == []
    records = _records(out)
    assert set(records) == {f"{DEFECTIVE}:{name}", "adamw"}
    assert records["adamw"]["status"] == "done", records["adamw"].get("error")
    assert comparable(records["adamw"]) == comparable(baseline_alone)


@pytest.mark.e2e
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_thread_left_running_by_a_submission_does_not_hang_the_sweep(tmp_path, workers):
    """A real `wdbench sweep --with`: in the sweep's own process (one worker) and in a pool
    worker (two), the sweep ends, says which thread it left, and keeps its exit code. The
    thread never ends: no grace (WDBENCH_THREAD_GRACE_S=0) changes that, and the report's
    figures have their own tests (--no-figures)."""
    out = tmp_path / "out"
    res = wdbench("sweep", _suite(tmp_path, BASELINE), "--with", f"{DEFECTIVE}:StartsThread",
                  "--out", str(out), "--workers", workers, "--quiet", "--no-figures",
                  env={GRACE_ENV: "0"}, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "thread(s) still running at exit (submission-thread" in res.stderr
    records = _records(out)
    assert {k: r["status"] for k, r in records.items()} == {
        "adamw": "done", f"{DEFECTIVE}:StartsThread": "done"}
