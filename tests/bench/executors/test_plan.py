"""Which pending trials form a stacked group, the cap, and why a trial runs alone (a batch of
one)."""

from __future__ import annotations

import json

from bench.executors.plan import plan
from bench.trial.batch import TrialBatch
from bench.trial.config import Trial
from tests.bench.helpers import TOY


def quad(optimizer="adamw", lr=0.01, wd=1.0, seed=0, **kw) -> Trial:
    return Trial("quadratic", optimizer, lr=lr, weight_decay=wd, seed=seed, budget="smoke",
                 **kw)


GRID = [quad(o, lr, wd, s) for o in ("adamw", "lion") for lr in (0.01, 0.05)
        for wd in (1.0, 2.0) for s in (0, 1)]


def groups(units):
    return [u for u in units if u.stacked]


def alone(trials):
    return [TrialBatch.of(t) for t in trials]


def test_trials_differing_only_in_lr_wd_and_seed_share_a_group():
    result = plan(GRID, stack_size=64)
    found = groups(result.units)
    assert [g.size for g in found] == [8, 8]
    assert [{t.optimizer for t in g.trials} for g in found] == [{"adamw"}, {"lion"}]
    assert not result.reasons and not result.notes()
    # Anything else that differs splits groups: options, schedule, steps, task options.
    other = [quad(steps=50), quad(seed=1, steps=50), quad(schedule="cosine"),
             quad(lr=0.1, schedule="cosine"), quad().with_settings({"betas": [0.9, 0.9]}),
             quad().with_settings({"task.dim": 3})]
    assert sorted(g.size for g in groups(plan(other, 64).units)) == [2, 2]
    assert len(plan(other, 64).units) == 4


def test_the_cap_splits_a_group_and_a_lone_rest_runs_alone():
    units = plan(GRID[:8], stack_size=3).units
    assert [u.size for u in units] == [3, 3, 2]
    assert [t for u in units for t in u.trials] == GRID[:8]
    units = plan(GRID[:7], stack_size=3).units
    assert [u.stacked for u in units] == [True, True, False]
    assert units[-1] == TrialBatch.of(GRID[6])


def test_no_stack_and_ddp_run_every_trial_alone():
    assert plan(GRID, stack_size=1).units == alone(GRID)
    result = plan(GRID, stack_size=8, processes=2)
    assert result.units == alone(GRID)
    assert result.notes() == ["stacking: 16 trial(s) run one by one: processes=2 (DDP) is "
                              "not stacked"]


def test_reasons_are_counted_once_each():
    trials = [quad(grad_accum=2), quad(seed=1, grad_accum=2), quad(compile=True),
              Trial(TOY, "adamw", lr=0.01, weight_decay=0.1, budget="smoke")]
    result = plan(trials, stack_size=8)
    assert result.units == alone(trials)
    assert dict(result.reasons) == {"grad_accum > 1 is not stacked": 2,
                                    "compile=true is not stacked": 1,
                                    f"task {TOY} does not opt in to stacking": 1}


def test_a_checkpointed_group_is_formed_again_whatever_the_stack_size(tmp_path):
    first = groups(plan(GRID, stack_size=3).units)[1]
    latest = tmp_path / first.id / "latest"
    latest.mkdir(parents=True)
    (latest / "members.json").write_text(json.dumps({"members": [t.id for t in first.trials]}))
    units = plan(GRID, stack_size=64, checkpoints=tmp_path).units
    assert units[0] == first
    assert sorted(g.size for g in groups(units)) == [3, 5, 8]
    # A trial with its own single-trial checkpoint resumes it alone.
    (tmp_path / GRID[15].id / "latest").mkdir(parents=True)
    result = plan(GRID, stack_size=64, checkpoints=tmp_path)
    assert TrialBatch.of(GRID[15]) in result.units
    assert result.reasons == {"resumes its own single-trial checkpoint": 1}


def test_trials_swept_by_tau_share_a_group():
    # A `tau` trial carries the λ its τ gives at its lr: τ varies within a group as λ does.
    trials = [quad(lr=lr, wd=1.0 / (lr * tau), tau=tau) for lr in (0.01, 0.05)
              for tau in (100.0, 400.0)]
    assert [g.size for g in groups(plan(trials, 64).units)] == [4]
