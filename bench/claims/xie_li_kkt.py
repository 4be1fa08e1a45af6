"""Claim 2. Xie & Li (ICML 2024, arXiv 2404.04454), Theorem: if AdamW (β1 ≤ β2; likewise
SignGD-WD, Lion) converges under a non-increasing schedule with divergent sum, full batch, its
limit is a KKT point of min L(x) s.t. ‖x‖∞ ≤ 1/λ.

The KKT metric is kkt_residual = fw_gap(x_t)/fw_gap(x_0) (SPEC §3): 0 at every KKT point,
interior ones included (fw_gap_rel cannot reach 0 there). No published work has measured it on
a network; the claim's full and cpu budgets do, on the 2-layer full-batch transformer with a
decaying schedule (a constant lr leaves the iterate oscillating at its own scale).
Cases: decoupled configurations at λ > 0. Gate: converged (the theorem speaks of limits: a run
whose residual and loss still move is inconclusive). Statistic: the final kkt_residual, mean
over seeds; holds when its 95% interval lies within ±KKT_TOL (the residual is negative where
x_T lies outside the box: the gap can then be small without a KKT point).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.claims import conditions, judging, records
from bench.claims.base import CaseVerdict, Claim, ClaimVerdict, Statistic, SuiteRun

CLAIM_ID = "2"
STATISTIC = Statistic("kkt_residual", "final fw_gap(x_T)/fw_gap(x_0) against the box 1/λ, "
                      "mean over seeds (negative: x outside the box, no KKT point either)",
                      (-conditions.KKT_TOL, conditions.KKT_TOL))
QUADRATIC = "xie_li_quadratic"
WIKITEXT = "xie_li_wikitext_kkt"


def at_kkt_point(case: records.Case, applicable: conditions.Check,
                 statistic: Statistic = STATISTIC) -> CaseVerdict:
    """One case's kkt_residual against ±KKT_TOL once converged (claims 5 and 12 judge Lion's
    KKT part with it, under their own statistic)."""
    return judging.decide(case, statistic, applicable,
                          [conditions.converged(case, metric=statistic.metric)])


def judge(recs: Sequence[Mapping[str, Any]]) -> ClaimVerdict:
    return judging.judge_cases(
        CLAIM_ID, STATISTIC, recs, lambda t: t.row.get("decay") != "coupled",
        lambda case, _trials: at_kkt_point(case, conditions.linf_theorem(case)))


CLAIM = Claim(
    id=CLAIM_ID, slug="xie-li-kkt", title="The limit is a KKT point of the box problem",
    source="Xie & Li, Implicit Bias of AdamW: ℓ∞ Norm Constrained Optimization, ICML 2024 "
           "(arXiv 2404.04454)",
    statement="Under a non-increasing schedule with divergent sum, full batch, a converging "
              "AdamW (β1 ≤ β2), SignGD-WD or Lion run ends at a KKT point of "
              "min L(x) s.t. ‖x‖∞ ≤ 1/λ: kkt_residual → 0.",
    preconditions=("ℓ∞-steepest direction (Adam, SignGD, Lion) with decoupled decay, λ > 0",
                   "for Adam, β1 ≤ β2", "non-increasing schedule with divergent sum",
                   "full-batch gradients", "converged (kkt_residual or a settled last window)"),
    statistic=STATISTIC,
    runs={"smoke": (SuiteRun(QUADRATIC, "smoke"),
                    SuiteRun(WIKITEXT, "smoke", {"steps": 10, "eval_every": 5,
                                                 "task.max_eval_tokens": 2048})),
          "cpu": (SuiteRun(QUADRATIC, "cpu"), SuiteRun(WIKITEXT, "cpu")),
          "full": (SuiteRun(QUADRATIC, "full", {"task.dim": 100}),
                   SuiteRun(WIKITEXT, "cpu", {"steps": 12800, "eval_every": 400}))},
    judge=judge)
