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
from bench.ledger.progress import BatchProgress, ProgressFiles, ProgressWriter
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


# 20 steps, evaluated at steps 0, 10 and 20, then on the test split: 24 units of the bar.
WORK = 20 + 3 + 1


def test_the_bar_counts_ended_trials_and_running_steps_and_never_goes_back(tmp_path):
    a, b, c, d = group(4).trials
    files = ProgressFiles(tmp_path)
    bar = SweepBar(tmp_path, [a, b, c, d], quiet=True)
    assert bar.bar.total == 4 * WORK
    files.write("g1", BatchProgress([a.id, b.id], 10, 20, 0, evaluations=4,
                                    updated=bar.since))
    files.write("t3", BatchProgress([c.id], 5, 20, 0, [0, 1], evaluations=1,
                                    updated=bar.since))
    files.write("other", BatchProgress(["z"], 19, 20, 0, updated=bar.since))  # not ours
    files.write("stale", BatchProgress([d.id], 18, 20, 0, updated=bar.since - 60))
    assert bar.poll() == 2 * 10 + 4 + 5 + 1
    assert bar.status == {"evaluating": "1/1"}
    bar.account(done(a.id))  # a's evaluations: half of its group's
    assert bar.n == WORK + 10 + 2 + 5 + 1
    files.remove("g1")  # the group's file goes a moment before `b` is accounted
    assert bar.poll() == WORK + 10 + 2 + 5 + 1
    bar.account(done(b.id))
    assert bar.n == 2 * WORK + 5 + 1
    assert bar.counts == {"done": 2} and bar.status["done"] == 2


def test_a_batch_resumed_from_a_checkpoint_counts_its_earlier_evaluations(tmp_path):
    """Its writer starts counting at the resume (step 15: the points at 0 and 10 were
    evaluated by the process before), so the bar reckons them from the step."""
    a, b = group(2).trials
    bar = SweepBar(tmp_path, [a, b], quiet=True)
    ProgressFiles(tmp_path).write("g", BatchProgress([a.id, b.id], 15, 20, 0, evaluations=0,
                                                     updated=bar.since))
    assert bar.poll() == 2 * (15 + 2)


def test_the_bar_moves_with_each_evaluation_before_a_groups_first_step(tmp_path):
    """A GPT group evaluates every member before its first step (a minute on a CPU): the bar
    counts each evaluation begun, and says which batches are still being built."""
    batch = group(4)
    bar = SweepBar(tmp_path, list(batch.trials), quiet=True)
    writer = ProgressWriter(ProgressFiles(tmp_path), batch.id, batch.trial_ids, every_s=0.0)
    writer.start()
    assert bar.poll() == 0 and bar.status == {"building": 1}
    shown = []
    for i in range(4):
        writer(0, 20, 0, (i, 4))
        shown.append(bar.poll())
        assert bar.status == {"evaluating": f"{i + 1}/4"}
    assert shown == [1, 2, 3, 4]


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
    bars.append(SweepBar(tmp_path, list(batch.trials), quiet=True))
    settings = WorkerSettings(out=str(tmp_path), progress_s=0.0)
    summaries = worker.run([batch], settings)
    assert [s["status"] for s in summaries] == ["done"] * 4
    # The start, each member's evaluation at step 0, then every step (and the evaluations
    # at steps 10 and 20).
    steps = [p.step for p, _ in seen if not p.evaluating]
    assert steps == [0, *range(1, 21)]
    # (step 20 twice: its validation point, then the test split before the records)
    assert [(p.step, p.evaluating) for p, _ in seen if p.evaluating] == [
        (step, [i, 4]) for step in (0, 10, 20, 20) for i in range(4)]
    assert [p.evaluations for p, _ in seen if p.evaluating] == list(range(1, 17))
    assert all(p.trials == batch.trial_ids and p.steps in (0, 20) for p, _ in seen)
    done = [n for _, n in seen]
    assert done == sorted(done) and done[-1] == 4 * WORK
    assert 0 < min(n for n in done if n) < 4  # an evaluation, before the group's first step
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
    assert during and 0 < during[0] < 3 * 20


def test_status_shows_a_running_groups_step(tmp_path, capsys):
    batch = group(2)
    submissions.write_plan(tmp_path, batch.trial_ids, "s")
    Ledger(tmp_path).trials_dir.mkdir(parents=True)
    store = ClaimStore(tmp_path)
    claims = [store.acquire(i) for i in batch.trial_ids]
    store.refresh(claims[0], step=5)
    ProgressFiles(tmp_path).write(batch.id, BatchProgress(batch.trial_ids, 12, 20, 1, [0, 1]))
    running = {r["id"]: r for r in collect(tmp_path)["running"]}
    assert {(r["step"], r["steps"], r["group_size"], r["diverged"]) for r in running.values()} \
        == {(12, 20, 2, 1)}
    assert running[batch.trials[0].id]["pid"] == os.getpid()
    status_cli.handle(argparse.Namespace(out=str(tmp_path), json=False, stale_after_s=300.0))
    out = capsys.readouterr().out
    assert out.count("step 12/20 (stacked group of 2, 1 diverged), evaluating 1 of 1") == 2
