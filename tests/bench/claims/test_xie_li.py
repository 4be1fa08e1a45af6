"""Claims 1-3 (Xie & Li's box, KKT, and the β1 > β2 contrast): every outcome from hand-built
records (tests/bench/claims/builders.py)."""

from __future__ import annotations

import pytest

from bench.claims import beta_contrast, xie_li_box, xie_li_kkt
from bench.claims.base import Outcome
from bench.cli import main
from bench.ledger.store import Ledger
from tests.bench.claims.builders import curve, record, seeds
from tests.tasks.test_wikitext import HELDOUT

INSIDE = {"linf_ratio": 1.0, "linf_norm": 0.5, "kkt_residual": 1e-4}
LAMBDA0 = {"linf_norm": 1.3, "train_loss": 0.0}  # the unconstrained run leaves r = 0.5


def box_runs(optimizer="adamw", final=INSIDE, lambda0=LAMBDA0, **kw):
    """Three seeds at λ = 2 and their three λ = 0 twins."""
    return (seeds(3, optimizer=optimizer, final=final, **kw)
            + seeds(3, optimizer=optimizer, weight_decay=0.0, final=lambda0, **kw))


def test_box_holds_when_converged_inside_a_binding_box():
    v = xie_li_box.judge(box_runs("adamw") + box_runs("signgd_wd") + box_runs("lion"))
    assert v.outcome is Outcome.HOLDS, v.reason
    assert len(v.cases) == 3 and v.statistic == 1.0 and v.interval == (1.0, 1.0)
    assert "at λ = 0 ‖x‖∞ reaches 1.3 > r = 0.5" in v.cases[0].reason
    # The trials used include the λ = 0 twins the binding test read.
    assert len(v.trials) == 18


def test_box_violated_when_converged_outside():
    runs = seeds(3, metric="linf_ratio", values=[1.20, 1.21, 1.19], final=INSIDE)
    runs += seeds(3, weight_decay=0.0, final=LAMBDA0)
    v = xie_li_box.judge(runs)
    assert v.outcome is Outcome.VIOLATED, v.reason
    assert 1.15 < v.interval[0] < 1.2 < v.interval[1] < 1.25


def test_box_straddling_interval_is_inconclusive():
    runs = seeds(3, metric="linf_ratio", values=[0.99, 1.0, 1.02], final=INSIDE)
    v = xie_li_box.judge(runs + seeds(3, weight_decay=0.0, final=LAMBDA0))
    assert v.outcome is Outcome.INCONCLUSIVE and "straddles ≤ 1.001" in v.reason


def test_box_inconclusive_when_it_cannot_bind():
    v = xie_li_box.judge(box_runs(lambda0={"linf_norm": 0.3}))
    assert v.outcome is Outcome.INCONCLUSIVE
    assert "the box cannot bind: at λ = 0 ‖x‖∞ reaches only 0.3" in v.reason


def test_box_inconclusive_without_a_lambda0_twin():
    v = xie_li_box.judge(seeds(3, final=INSIDE))
    assert v.outcome is Outcome.INCONCLUSIVE and "no λ = 0 run" in v.reason


def test_box_inconclusive_when_not_converged():
    runs = seeds(3, final={"linf_ratio": 0.9, "linf_norm": 0.45, "kkt_residual": 0.3},
                 change=0.2) + seeds(3, weight_decay=0.0, final=LAMBDA0)
    v = xie_li_box.judge(runs)
    assert v.outcome is Outcome.INCONCLUSIVE and "not converged" in v.reason


def test_box_inconclusive_with_too_few_seeds_or_a_diverged_seed():
    few = xie_li_box.judge(seeds(2, final=INSIDE) + seeds(2, weight_decay=0.0, final=LAMBDA0))
    assert few.outcome is Outcome.INCONCLUSIVE and "the interval needs 3" in few.reason
    runs = box_runs()
    runs[2] = record(seed=2, status="diverged")
    diverged = xie_li_box.judge(runs)
    assert diverged.outcome is Outcome.INCONCLUSIVE and "1 diverged of 3 seeds" in diverged.reason


def test_box_not_applicable_outside_the_theorem():
    for kw, phrase in (({"optimizer_options": {"betas": [0.99, 0.9]}}, "β1 = 0.99 > β2 = 0.9"),
                       ({"schedule": "cosine"}, "cosine is not a theorem schedule"),
                       ({"steps_per_epoch": 32}, "minibatch gradients")):
        v = xie_li_box.judge(box_runs(**kw))
        assert v.outcome is Outcome.NOT_APPLICABLE, kw
        assert phrase in v.reason and "observed linf_ratio 1" in v.reason


def test_beta1_above_beta2_rows_are_not_applicable_beside_judged_ones():
    contrast = {"optimizer_options": {"betas": [0.99, 0.9]}}
    v = xie_li_box.judge(box_runs() + box_runs(final={**INSIDE, "linf_ratio": 1.6}, **contrast))
    assert v.outcome is Outcome.HOLDS, v.reason
    outcomes = sorted(c.outcome.value for c in v.cases)
    assert outcomes == ["holds", "not-applicable"] and "1 case(s) not applicable" in v.reason


def test_100_step_wikitext_box_is_inconclusive():
    """A 100-step full-batch WikiText run: weights barely moved from their initialization
    (λ‖x‖∞ well inside the box, still growing), and Adam without decay stays inside 1/λ too."""
    def run(wd, seed, linf):
        points = [{"step": 0, "linf_norm": 0.093, "linf_ratio": 0.093 * wd, "val_loss": 6.2},
                  {"step": 100, "linf_norm": linf, "linf_ratio": linf * wd,
                   "train_loss": 3.5, "kkt_residual": 0.88}]
        return record(weight_decay=wd, seed=seed, task="wikitext", schedule="constant",
                      lr=1e-3, final=points[-1], points=points)

    runs = [run(1.0, s, 0.16) for s in range(3)] + [run(0.0, s, 0.17) for s in range(3)]
    v = xie_li_box.judge(runs)
    assert v.outcome is Outcome.INCONCLUSIVE
    assert "the box cannot bind: at λ = 0 ‖x‖∞ reaches only 0.17 ≤ r = 1" in v.reason
    assert "not converged" in v.reason and "over steps 0–100" in v.reason


def test_kkt_every_outcome():
    holds = xie_li_kkt.judge(seeds(3, final=INSIDE))
    assert holds.outcome is Outcome.HOLDS and holds.statistic == 1e-4
    stuck = {"linf_ratio": 1.0, "kkt_residual": 0.3}
    violated = xie_li_kkt.judge(seeds(3, metric="kkt_residual", values=[0.3, 0.31, 0.29],
                                      final=stuck))
    assert violated.outcome is Outcome.VIOLATED, violated.reason
    assert "settled over steps 19000–20000" in violated.cases[0].reason
    moving = xie_li_kkt.judge(seeds(3, final=stuck, change=0.05))
    assert moving.outcome is Outcome.INCONCLUSIVE and "kkt_residual 0.3 > 0.01" in moving.reason
    contrast = xie_li_kkt.judge(seeds(3, final=INSIDE,
                                      optimizer_options={"betas": [0.99, 0.9]}))
    assert contrast.outcome is Outcome.NOT_APPLICABLE
    outside = xie_li_kkt.judge(seeds(3, final={"linf_ratio": 1.5, "kkt_residual": -0.4}))
    assert outside.outcome is Outcome.VIOLATED and "outside [-0.01, 0.01]" in outside.reason
    missing = xie_li_kkt.judge(seeds(3, final={"linf_ratio": 1.0}))
    assert missing.outcome is Outcome.INCONCLUSIVE and "recorded kkt_residual" in missing.reason


def test_beta_contrast_is_not_applicable_and_says_what_it_shows():
    contrast = {"optimizer_options": {"betas": [0.99, 0.9]}}
    outside = box_runs(final={**INSIDE, "linf_ratio": 1.6}, **contrast)
    v = beta_contrast.judge(outside + box_runs())  # the β1 ≤ β2 rows are claim 1's
    assert v.outcome is Outcome.NOT_APPLICABLE and len(v.cases) == 1
    assert "β1 = 0.99 > β2 = 0.9" in v.reason
    assert "ends outside the box, a counterexample" in v.reason
    assert abs(v.statistic - 1.6) < 1e-12  # the numbers are still reported
    inside = beta_contrast.judge(box_runs(**contrast))
    assert "inside the box all the same" in inside.reason
    assert beta_contrast.judge([]).outcome is Outcome.INCONCLUSIVE


def test_curve_builder_settles_and_moves():
    assert curve({"a": 1.0})[0]["a"] == 1.0
    assert curve({"a": 1.0}, change=0.5)[0]["a"] == 0.5


@pytest.mark.slow
def test_real_short_wikitext_box_runs_are_inconclusive(tmp_path, monkeypatch):
    """The §5.1-shaped suite (wikitext_kkt.yaml) cut to 10 steps (a real 100-step run says the
    same, at 8x the cost): every AdamW case is inconclusive, for not having converged and (at
    small λ) for a box that cannot bind."""
    if not (HELDOUT / "wiki.train.tokens").is_file():
        pytest.skip(f"real WikiText files not found at {HELDOUT} (set WDBENCH_SHARED_DATA)")
    monkeypatch.setenv("WDBENCH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    assert main(["sweep", "wikitext_kkt", "--optimizers", "adamw", "--set", "steps=10",
                 "--set", "eval_every=5",
                 "--out", str(out), "--data-dir", str(HELDOUT), "--quiet"]) == 0
    v = xie_li_box.judge(Ledger(out).records())
    assert v.outcome is Outcome.INCONCLUSIVE and len(v.cases) == 4
    assert all(c.outcome is Outcome.INCONCLUSIVE and "not converged" in c.reason
               for c in v.cases)
    assert "the box cannot bind" in v.cases[0].reason  # λ = 1: Adam stays inside 1/λ = 1
