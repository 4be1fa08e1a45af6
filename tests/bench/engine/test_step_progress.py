"""The engine's loops report progress (bench/engine/context.py::OnStep) after every step,
(steps done, steps, members diverged), and before each evaluation, (..., (members evaluated,
members to evaluate)), the final one on the test split included: for a lone trial and for a
stacked group whose member diverges mid-run."""

from __future__ import annotations

from bench.engine.runner import run_trial
from bench.engine.stacked.loop import run_group
from bench.trial.batch import TrialBatch
from bench.trial.config import Trial
from tests.bench.engine.test_runner import toy


def steps_and_evaluations(calls):
    return ([c for c in calls if len(c) == 3], [c for c in calls if len(c) == 4])


def test_a_lone_trial_reports_every_step_and_each_evaluation(tmp_path):
    calls = []
    record = run_trial(toy(), tmp_path, show_progress=False,
                       on_step=lambda *a: calls.append(a))
    assert record["status"] == "done"
    steps, evaluations = steps_and_evaluations(calls)
    assert steps == [(step, 30, 0) for step in range(1, 31)]
    # The last step's validation point, then the test split's evaluation.
    assert evaluations == [(step, 30, 0, (0, 1)) for step in (0, 10, 20, 30, 30)]
    assert calls.index((10, 30, 0, (0, 1))) == calls.index((10, 30, 0)) + 1


def test_a_diverging_lone_trial_stops_reporting_where_it_stops(tmp_path):
    calls = []
    record = run_trial(toy(settings={"task.explode_at": 15}), tmp_path, show_progress=False,
                       on_step=lambda *a: calls.append(a))
    assert record["diverged_at"] == 11
    assert steps_and_evaluations(calls)[0] == [(step, 30, 0) for step in range(1, 12)]


def test_a_group_reports_its_steps_and_its_diverged_members(tmp_path):
    base = dict(task="quadratic", optimizer="sgdw", budget="smoke", steps=40, eval_every=10)
    trials = [Trial(lr=0.01, weight_decay=1.0, seed=0, **base),
              Trial(lr=1e6, weight_decay=0.0, seed=0, **base),  # diverges within steps
              Trial(lr=0.05, weight_decay=2.0, seed=1, **base)]
    calls = []
    records = run_group(TrialBatch(tuple(trials)), str(tmp_path),
                        on_step=lambda *a: calls.append(a))
    at = records[1]["diverged_at"]
    assert [r["status"] for r in records] == ["done", "diverged", "done"] and at < 10
    steps, evaluations = steps_and_evaluations(calls)
    # On CPU the losses are read every step: the count rises at the diverged step.
    assert steps == [(step, 40, int(step >= at)) for step in range(1, 41)]
    # Every member at step 0, then the two still training (at the end: validation, then the
    # test split).
    assert evaluations == ([(0, 40, 0, (i, 3)) for i in range(3)]
                           + [(step, 40, 1, (i, 2)) for step in (10, 20, 30, 40, 40)
                              for i in range(2)])
