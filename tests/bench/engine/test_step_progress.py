"""The engine's loops report progress after every step (bench/engine/context.py::OnStep):
(steps done, steps, members diverged), for a lone trial and for a stacked group whose member
diverges mid-run."""

from __future__ import annotations

from bench.engine.runner import run_trial
from bench.engine.stacked.loop import run_group
from bench.trial.batch import TrialBatch
from bench.trial.config import Trial
from tests.bench.engine.test_runner import toy


def test_a_lone_trial_reports_every_step(tmp_path):
    calls = []
    record = run_trial(toy(), tmp_path, show_progress=False,
                       on_step=lambda *a: calls.append(a))
    assert record["status"] == "done"
    assert calls == [(step, 30, 0) for step in range(1, 31)]


def test_a_diverging_lone_trial_stops_reporting_where_it_stops(tmp_path):
    calls = []
    record = run_trial(toy(settings={"task.explode_at": 15}), tmp_path, show_progress=False,
                       on_step=lambda *a: calls.append(a))
    assert record["diverged_at"] == 11
    assert calls == [(step, 30, 0) for step in range(1, 12)]


def test_a_group_reports_its_steps_and_its_diverged_members(tmp_path):
    base = dict(task="quadratic", optimizer="sgdw", budget="smoke", steps=40, eval_every=10)
    trials = [Trial(lr=0.01, weight_decay=1.0, seed=0, **base),
              Trial(lr=1e6, weight_decay=0.0, seed=0, **base),  # diverges within steps
              Trial(lr=0.05, weight_decay=2.0, seed=1, **base)]
    calls = []
    records = run_group(TrialBatch(tuple(trials)), str(tmp_path),
                        on_step=lambda *a: calls.append(a))
    at = records[1]["diverged_at"]
    assert [r["status"] for r in records] == ["done", "diverged", "done"] and at < 40
    # On CPU the losses are read every step: the count rises at the diverged step.
    assert calls == [(step, 40, int(step >= at)) for step in range(1, 41)]
