"""Claim 4. Adam with an ℓ2 penalty (coupled decay, g ← g + λx) is Adam on L(x) + λ/2‖x‖², so
where it converges it ends at a stationary point of that regularised loss (SPEC §1; the
contrast Loshchilov & Hutter draw, arXiv 1711.05101, and the alternative target Xie & Li name,
arXiv 2404.04454). There is no box to end in.

Cases: Adam-direction configurations with coupled decay at λ > 0. Gate: converged.
Statistic: the final l2_stationarity = ‖g + λx‖/(‖g‖ + λ‖x‖), mean over seeds; holds when its
95% interval lies at or below STATIONARY_TOL (bench/claims/theory.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.claims import conditions, judging, records
from bench.claims.base import CaseVerdict, Claim, ClaimVerdict, Statistic, SuiteRun
from bench.claims.xie_li_box import QUADRATIC

CLAIM_ID = "4"
STATISTIC = Statistic("l2_stationarity", "final ‖g + λx‖/(‖g‖ + λ‖x‖), mean over seeds",
                      (None, conditions.STATIONARY_TOL))


def coupled_adam(case: records.Case) -> conditions.Check:
    first = case.first
    if first.row.get("direction") != "adam":
        return conditions.Check(False, f"{first.row.get('direction')} direction (the claim "
                                       "is Adam's)")
    if first.row.get("decay") != "coupled":
        return conditions.Check(False, f"{first.row.get('decay')} decay (the claim is the ℓ2 "
                                       "penalty's)")
    return conditions.Check(True, "Adam with an ℓ2 penalty")


def stationary(case: records.Case, _trials: Sequence[records.TrialView]) -> CaseVerdict:
    gates = [conditions.converged(case, residual_key=STATISTIC.metric, metric=STATISTIC.metric)]
    return judging.decide(case, STATISTIC, coupled_adam(case), gates)


def judge(recs: Sequence[Mapping[str, Any]]) -> ClaimVerdict:
    return judging.judge_cases(CLAIM_ID, STATISTIC, recs,
                               lambda t: t.row.get("decay") == "coupled", stationary)


CLAIM = Claim(
    id=CLAIM_ID, slug="adam-l2-stationary",
    title="Adam + ℓ2 ends at a stationary point of L + λ/2‖x‖²",
    source="Loshchilov & Hutter, Decoupled Weight Decay Regularization, ICLR 2019 (arXiv "
           "1711.05101); Xie & Li (arXiv 2404.04454) §1",
    statement="Adam with coupled decay (an ℓ2 penalty in the gradient) converges to a "
              "stationary point of L(x) + λ/2‖x‖²: l2_stationarity → 0.",
    preconditions=("Adam direction with coupled decay, λ > 0",
                   "converged (l2_stationarity or a settled last window)"),
    statistic=STATISTIC,
    runs={"smoke": (SuiteRun(QUADRATIC, "smoke"),), "cpu": (SuiteRun(QUADRATIC, "cpu"),),
          "full": (SuiteRun(QUADRATIC, "full", {"task.dim": 100}),)},
    judge=judge)
