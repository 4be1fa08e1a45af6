"""Progress while a batch runs: its worker writes the batch's progress file from the engine's
per-step callback, the sweep's bar moves with it before the batch ends, and `wdbench status`
shows a running group's step. Driven by step counts (the writer's interval set to 0, or its
first-step write), never by sleeps."""

from __future__ import annotations

import argparse
import os
from contextlib import contextmanager

import pytest

from bench.cli import status as status_cli
from bench.executors import submissions, worker
from bench.executors.claimed import WorkerSettings
from bench.executors.status import collect
from bench.executors.sweep import SweepOptions, run_sweep
from bench.executors.sweep_bar import SweepBar
from bench.ledger.progress import BatchProgress, ProgressFiles
from bench.ledger.store import Ledger
from bench.ledger.trial_claims import ClaimStore
from bench.trial.batch import TrialBatch
from bench.trial.config import Trial

BASE = dict(task="quadratic", optimizer="adamw", budget="smoke", steps=20, eval_every=10)


def group(size: int = 4) -> TrialBatch:
    return TrialBatch(tuple(Trial(lr=0.01 * (i + 1), weight_decay=1.0, seed=i, **BASE)
                            for i in range(size)))


def done(trial_id: str) -> dict:
    return {"id": trial_id, "status": "done", "optimizer": "adamw", "error": []}


def test_the_bar_counts_ended_trials_and_running_shares_and_never_goes_back(tmp_path):
    files = ProgressFiles(tmp_path)
    bar = SweepBar(tmp_path, ["a", "b", "c", "d"], quiet=True)
    files.write("g1", BatchProgress(["a", "b"], 50, 100, 0, updated=bar.since))
    files.write("t3", BatchProgress(["c"], 25, 100, 0, updated=bar.since))
    files.write("other", BatchProgress(["z"], 99, 100, 0, updated=bar.since))  # not ours
    files.write("stale", BatchProgress(["d"], 90, 100, 0, updated=bar.since - 60))
    assert bar.poll() == pytest.approx(2 * 0.5 + 0.25)
    bar.account(done("a"))
    assert bar.n == pytest.approx(1 + 0.5 + 0.25)
    files.remove("g1")  # the group's file goes a moment before "b" is accounted
    assert bar.poll() == pytest.approx(1.75)
    bar.account(done("b"))
    assert bar.n == pytest.approx(2.25)
    assert bar.counts == {"done": 2}


@pytest.fixture
def observed(monkeypatch):
    """Every progress write, with what a sweep bar over the same directory reads then."""
    seen: list[tuple[BatchProgress, float]] = []
    bars: list[SweepBar] = []
    write = ProgressFiles.write

    def watching(self, batch_id, progress):
        write(self, batch_id, progress)
        seen.append((progress, bars[0].poll() if bars else 0.0))

    monkeypatch.setattr(ProgressFiles, "write", watching)
    return seen, bars


def test_a_worker_writes_a_groups_progress_every_step_and_clears_it(tmp_path, observed):
    seen, bars = observed
    batch = group()
    bars.append(SweepBar(tmp_path, batch.trial_ids, quiet=True))
    settings = WorkerSettings(out=str(tmp_path), progress_s=0.0)
    summaries = worker.run([batch], settings)
    assert [s["status"] for s in summaries] == ["done"] * 4
    steps = [p.step for p, _ in seen]
    assert steps == [0, *range(1, 21)]  # the start, then every step
    assert all(p.trials == batch.trial_ids and p.steps in (0, 20) for p, _ in seen)
    shares = [n for _, n in seen]
    assert shares == sorted(shares) and shares[-1] == 4.0
    assert 0 < shares[1] < 1  # one step of 20, x 4 members, before the group ended
    assert not ProgressFiles(tmp_path).read_all()  # gone with the batch
    assert not ClaimStore(tmp_path).all_current()


def test_a_local_sweeps_bar_moves_before_its_group_ends(tmp_path, observed, monkeypatch):
    seen, bars = observed

    @contextmanager
    def registered(self, every_s=1.0):
        bars.append(self)
        yield self

    monkeypatch.setattr(SweepBar, "ticking", registered)
    trials = list(group(3).trials)
    counts = run_sweep(trials, SweepOptions(out=tmp_path, quiet=True))
    assert counts["done"] == 3
    # The writer writes at the group's start and its first step whatever the clock says.
    during = [n for p, n in seen if 0 < p.step < 20]
    assert during and 0 < during[0] < 3


def test_status_shows_a_running_groups_step(tmp_path, capsys):
    batch = group(2)
    submissions.write_plan(tmp_path, batch.trial_ids, "s")
    Ledger(tmp_path).trials_dir.mkdir(parents=True)
    store = ClaimStore(tmp_path)
    claims = [store.acquire(i) for i in batch.trial_ids]
    store.refresh(claims[0], step=5)
    ProgressFiles(tmp_path).write(batch.id, BatchProgress(batch.trial_ids, 12, 20, 1))
    running = {r["id"]: r for r in collect(tmp_path)["running"]}
    assert {(r["step"], r["steps"], r["group_size"], r["diverged"]) for r in running.values()} \
        == {(12, 20, 2, 1)}
    assert running[batch.trials[0].id]["pid"] == os.getpid()
    status_cli.handle(argparse.Namespace(out=str(tmp_path), json=False, stale_after_s=300.0))
    out = capsys.readouterr().out
    assert out.count("step 12/20 (stacked group of 2, 1 diverged)") == 2
