"""Claims 10 (Kosson et al.'s rotational equilibrium) and 11 (AdamC's flat ‖g‖/‖x‖), judged on
per-tensor curves: every outcome from hand-built records whose curve points carry the angular
updates and the gradient-to-weight ratios and cosines (tests/bench/claims/builders.py)."""

from __future__ import annotations

import math

import pytest

from bench.claims import adamc_ratio, kosson_rotation, layers, records
from bench.claims.base import Outcome
from tests.bench.claims.builders import record

CONV = ("conv0", "conv1", "conv2")  # scale-invariant: gradient orthogonal to the weights
HEAD = "fc"  # not: its cosine is far from 0


def point(step, lr, angles=None, ratios=None, head_cos=0.2):
    cosines = {**dict.fromkeys(CONV, 1e-6), HEAD: head_cos}
    out = {"step": step, "scheduled_lr": lr, "train_loss": 1.0,
           "grad_weight": {"ratio": ratios or dict.fromkeys((*CONV, HEAD), 0.1),
                           "cosine": cosines}}
    if angles is not None:
        out["rotation"] = {"angular_update": angles,
                           "weight_norm": dict.fromkeys((*CONV, HEAD), 1.0)}
    return out


def rotation_run(optimizer, angles, wd, tau=25.0, steps=300, seed=0, head_cos=0.2):
    """A constant-lr run whose angular updates are `angles` (per conv tensor) throughout."""
    pts = [point(s, 0.01, None if s == 0 else {**dict(zip(CONV, angles)), HEAD: 0.5},
                 head_cos=head_cos) for s in range(0, steps + 1, 25)]
    return record(optimizer, lr=0.01, weight_decay=wd, seed=seed, schedule="constant",
                  points=pts, final=pts[-1], steps=steps,
                  timescale={"tau_iter": tau if optimizer == "adamw" else None})


def rotation_runs(adamw_angles=(0.06, 0.06, 0.062), l2_angles=(0.02, 0.03, 0.05), **kw):
    return ([rotation_run("adamw", adamw_angles, 4.0, seed=s, **kw) for s in range(3)]
            + [rotation_run("adam_l2", l2_angles, 0.01, seed=s, **kw) for s in range(3)])


def test_rotation_holds_when_adamw_rotates_its_layers_alike():
    v = kosson_rotation.judge(rotation_runs())
    assert v.outcome is Outcome.HOLDS, v.reason
    (case,) = v.cases
    assert case.optimizer == "adamw" and "vs adam_l2 λ=0.01" in case.reason
    assert case.numbers["adamw_cv"] < 0.02 < 0.3 < case.numbers["adam_l2_cv"]
    assert case.numbers["scale_invariant"] == list(CONV)  # the head is left out
    assert case.numbers["window_points"] == 9  # steps 100..300 (after 3 τ = 75)
    assert len(case.trials) == 6


def test_rotation_violated_when_adam_l2_is_the_balanced_one():
    v = kosson_rotation.judge(rotation_runs(adamw_angles=(0.02, 0.03, 0.05),
                                            l2_angles=(0.06, 0.06, 0.062)))
    assert v.outcome is Outcome.VIOLATED and v.statistic < 0, v.reason


def test_rotation_inconclusive_before_equilibrium():
    v = kosson_rotation.judge(rotation_runs(tau=100.0))  # window after 300 steps: empty
    assert v.outcome is Outcome.INCONCLUSIVE
    assert "0 evaluation point(s) after 3 τ_iter = 300 steps" in v.reason


def test_rotation_not_applicable_without_two_normalized_layers():
    few = [record("adamw", lr=0.01, weight_decay=4.0, seed=s, points=[
        {"step": t, "scheduled_lr": 0.01,
         "grad_weight": {"cosine": {"conv0": 1e-6, "fc": 0.3}, "ratio": {}}}
        for t in (0, 100)], steps=100, timescale={"tau_iter": 25.0}) for s in range(3)]
    few += [record("adam_l2", lr=0.01, weight_decay=0.01, seed=s, steps=100)
            for s in range(3)]
    v = kosson_rotation.judge(few)
    assert v.outcome is Outcome.NOT_APPLICABLE and "1 scale-invariant" in v.reason


def ratio_run(optimizer, rise, seed=0, steps=300, schedule="cosine", tau=25.0):
    """‖g‖/‖x‖ of the conv layers flat over the first half, then growing to `rise` × by the
    last quarter."""
    pts = []
    for s in range(0, steps + 1, 25):
        lr = (0.01 * 0.5 * (1 + math.cos(math.pi * s / steps)) if schedule == "cosine"
              else 0.01)
        factor = 1.0 if s <= steps / 2 else rise
        pts.append(point(s, lr, ratios={**dict.fromkeys(CONV, 0.05 * factor), HEAD: 0.2}))
    return record(optimizer, lr=0.01, weight_decay=4.0, seed=seed, schedule=schedule,
                  points=pts, final=pts[-1], steps=steps, timescale={"tau_iter": tau})


def ratio_runs(adamc=1.1, adamw=2.2, **kw):
    return ([ratio_run("adamc", adamc, seed=s, **kw) for s in range(3)]
            + [ratio_run("adamw", adamw, seed=s, **kw) for s in range(3)])


def test_adamc_holds_flat_while_adamw_rises():
    v = adamc_ratio.judge(ratio_runs())
    assert v.outcome is Outcome.HOLDS, v.reason
    assert v.statistic == pytest.approx(1.1) and "decoupled adamw: grad_ratio_rise 2.2" in \
        v.reason
    numbers = v.cases[0].numbers
    assert numbers["adamc_rise_per_seed"] == pytest.approx([1.1] * 3)
    assert numbers["adamw_rise_per_seed"] == pytest.approx([2.2] * 3)
    assert len(v.trials) == 6


@pytest.mark.parametrize("adamc, adamw, phrase", [
    (2.2, 2.2, "grad_ratio_rise 2.2 [2.2, 2.2] outside [0.666667, 1.5]"),  # AdamC rises too
    (1.0, 1.1, "grad_ratio_rise 1.1 [1.1, 1.1] outside ≥ 1.5"),  # AdamW does not rise
])
def test_adamc_violated(adamc, adamw, phrase):
    v = adamc_ratio.judge(ratio_runs(adamc, adamw))
    assert v.outcome is Outcome.VIOLATED and phrase in v.reason, v.reason


def test_adamc_inconclusive_before_equilibrium_or_without_a_partner():
    short = adamc_ratio.judge(ratio_runs(tau=100.0))
    assert short.outcome is Outcome.INCONCLUSIVE
    assert "the first quarter is shorter than 3 τ_iter = 300 steps" in short.reason
    alone = adamc_ratio.judge([ratio_run("adamc", 1.0, seed=s) for s in range(3)])
    assert alone.outcome is Outcome.INCONCLUSIVE and "no decoupled run" in alone.reason


def test_adamc_not_applicable_without_a_decaying_schedule():
    v = adamc_ratio.judge(ratio_runs(schedule="constant"))
    assert v.outcome is Outcome.NOT_APPLICABLE and "ends at lr 0.01" in v.reason


def test_layers_reads_scale_invariance_from_the_cosine():
    trial = records.views([ratio_run("adamw", 2.0)])[0]
    assert layers.scale_invariant(trial) == list(CONV)
    assert adamc_ratio.rise(trial, list(CONV)) == (pytest.approx(2.0), 3)
    assert layers.angular_cv({"rotation": {"angular_update": {"a": 1.0, "b": 3.0}}},
                             ["a", "b"]) == pytest.approx(0.5)
