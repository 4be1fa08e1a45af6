"""Claim 1. Xie & Li, "Implicit Bias of AdamW: ℓ∞ Norm Constrained Optimization" (ICML 2024,
arXiv 2404.04454): decoupled ℓ∞ methods (AdamW with β1 ≤ β2, SignGD-WD, Lion) under a
non-increasing schedule with divergent sum end in the box ‖x‖∞ ≤ 1/λ, once converged.

Cases: every decoupled configuration at λ > 0 (others are not-applicable, with the reason).
Gates: the box binds (the λ = 0 twin leaves it), every seed converged (conditions.py).
Statistic: the final linf_ratio = λ‖x‖∞, mean over seeds; holds when its 95% interval lies at
or below 1 + INSIDE_TOL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.claims import conditions, judging, records
from bench.claims.base import CaseVerdict, Claim, ClaimVerdict, Statistic, SuiteRun

CLAIM_ID = "1"
STATISTIC = Statistic("linf_ratio", "final λ‖x‖∞ (‖x‖∞ over the radius 1/λ), mean over seeds",
                      (None, conditions.BOX_THRESHOLD))
QUADRATIC = "xie_li_quadratic"
WIKITEXT = "xie_li_wikitext_box"


def in_box(case: records.Case, trials: Sequence[records.TrialView],
           applicable: conditions.Check) -> CaseVerdict:
    """One case's linf_ratio against the box, where it binds and every seed converged
    (claims 5 and 12 judge Lion's box part with it)."""
    gates = [conditions.binds_box(case, trials),
             conditions.converged(case, metric=STATISTIC.metric)]
    return judging.decide(case, STATISTIC, applicable, gates)


def judge(recs: Sequence[Mapping[str, Any]]) -> ClaimVerdict:
    return judging.judge_cases(
        CLAIM_ID, STATISTIC, recs, lambda t: t.row.get("decay") != "coupled",
        lambda case, trials: in_box(case, trials, conditions.linf_theorem(case)))


CLAIM = Claim(
    id=CLAIM_ID, slug="xie-li-box", title="Decoupled ℓ∞ methods end in the box ‖x‖∞ ≤ 1/λ",
    source="Xie & Li, Implicit Bias of AdamW: ℓ∞ Norm Constrained Optimization, ICML 2024 "
           "(arXiv 2404.04454)",
    statement="AdamW (β1 ≤ β2), SignGD with decoupled decay and Lion, run full batch under a "
              "non-increasing learning-rate schedule with divergent sum, converge to a point "
              "with ‖x‖∞ ≤ 1/λ.",
    preconditions=("ℓ∞-steepest direction (Adam, SignGD, Lion) with decoupled decay, λ > 0",
                   "for Adam, β1 ≤ β2", "non-increasing schedule with divergent sum",
                   "full-batch gradients", "converged (kkt_residual or a settled last window)",
                   "the box binds: the same setting at λ = 0 leaves it"),
    statistic=STATISTIC,
    runs={"smoke": (SuiteRun(QUADRATIC, "smoke"),),
          "cpu": (SuiteRun(QUADRATIC, "cpu"),),
          "full": (SuiteRun(QUADRATIC, "full", {"task.dim": 100}),
                   SuiteRun(WIKITEXT, "cpu"))},
    judge=judge)
