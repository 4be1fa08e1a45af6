"""Claim 7. Chen, Li, Liang, Su, Xie, Pierse, Liang, Lao & Liu, "Cautious Weight Decay" (2025,
arXiv 2510.12402): decay applied only where the update and the parameter agree in sign keeps
the original loss (no regularised or constrained surrogate: a sliding-mode search among the
stationary points of L), where decoupled decay solves the box problem ‖x‖∞ ≤ 1/λ.

On a strongly convex quadratic the original loss has one stationary point, its minimizer c,
and the box problem one solution, x_box (SPEC §4): cautious decay should end at c, decoupled
decay at x_box, and the two differ wherever the box binds.

Cases: cautious-decay configurations at λ > 0, each with its decoupled partner (same
direction, lr, λ and settings; bench/claims/pairs.py). Gates, each side: the box binds (the
λ = 0 twin leaves it: c lies outside), converged. Statistic: cautious decay's final
dist_opt = ‖x − c‖/‖c‖, mean over seeds; holds when its 95% interval lies at or below
DIST_TOL and the partner's dist_box does too (judging.combine: both must hold).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.claims import conditions, judging, pairs, records
from bench.claims.base import CaseVerdict, Claim, ClaimVerdict, Statistic, SuiteRun

CLAIM_ID = "7"
DIST_TOL = 1e-2  # ‖x − x*‖/‖c‖ at or below: x* reached (1% of the optimum's own size)
STATISTIC = Statistic("dist_opt", "final ‖x − c‖/‖c‖ of cautious decay (c: the unconstrained "
                      "minimizer), mean over seeds; decoupled decay's dist_box at the same "
                      "lr and λ must lie at or below the same threshold", (None, DIST_TOL))
BOX = Statistic("dist_box", "final ‖x − x_box‖/‖c‖ of decoupled decay", (None, DIST_TOL))
SUITE = "cautious_quadratic"


def deterministic(case: records.Case) -> conditions.Check:
    """Full-batch gradients: the claim is about where the dynamics end, not about noise."""
    per_epoch = records.number(case.first.row.get("steps_per_epoch"))
    if per_epoch != 1:
        return conditions.Check(False, f"minibatch gradients ({per_epoch} steps per epoch; "
                                       "the end point is tested on full-batch runs)",
                                {"steps_per_epoch": per_epoch})
    return conditions.Check(True, "full-batch gradients")


def contrast(case: records.Case, trials: Sequence[records.TrialView]) -> CaseVerdict:
    """The decoupled partner's verdict: it ends at the box optimum (dist_box)."""
    def at_box_optimum(partner: records.Case) -> CaseVerdict:
        gates = [conditions.binds_box(partner, trials),
                 conditions.converged(partner, metric=BOX.metric)]
        return judging.decide(partner, BOX, deterministic(partner), gates)

    return pairs.judged_partner(case, trials, "decoupled", at_box_optimum,
                                "no decoupled run at this lr, λ and setting to contrast (the "
                                "claim is a contrast with decoupled decay)")


def keeps_loss(case: records.Case, trials: Sequence[records.TrialView]) -> CaseVerdict:
    """Cautious decay ends at c, and its decoupled partner at the box optimum."""
    # Cautious decay predicts no box: it binds where decoupled decay's, 1/λ, would.
    gates = [conditions.binds_box(case, trials, radius=1.0 / case.first.weight_decay),
             conditions.converged(case, residual_key=STATISTIC.metric, metric=STATISTIC.metric)]
    mine = judging.decide(case, STATISTIC, deterministic(case), gates)
    return judging.combine(mine, contrast(case, trials))


def judge(recs: Sequence[Mapping[str, Any]]) -> ClaimVerdict:
    return judging.judge_cases(CLAIM_ID, STATISTIC, recs,
                               lambda t: t.row.get("decay") == "cautious", keeps_loss)


CLAIM = Claim(
    id=CLAIM_ID, slug="cautious-keeps-loss",
    title="Cautious decay ends at the unconstrained minimizer, decoupled decay at the box "
          "optimum",
    source="Chen et al., Cautious Weight Decay, 2025 (arXiv 2510.12402)",
    statement="Cautious weight decay keeps the original loss: on a strongly convex quadratic "
              "whose minimizer c lies outside the box ‖x‖∞ ≤ 1/λ, cautious AdamW converges to "
              "c (dist_opt → 0) where AdamW converges to the box optimum (dist_box → 0).",
    preconditions=("cautious decay, λ > 0, with a decoupled run at the same lr, λ and "
                   "setting", "full-batch gradients",
                   "the box binds: the same setting at λ = 0 leaves it (c lies outside)",
                   "converged (dist_opt at the threshold, or a settled last window)"),
    statistic=STATISTIC,
    runs={"smoke": (SuiteRun(SUITE, "smoke"),), "cpu": (SuiteRun(SUITE, "cpu"),),
          "full": (SuiteRun(SUITE, "full", {"task.dim": 100}),)},
    judge=judge)
