"""Claim 3. The β1 > β2 contrast to Xie & Li (arXiv 2404.04454): their bound on Adam's average
update, and with it the box, takes β1 ≤ β2. AdamW at (β1, β2) = (0.99, 0.9) lies outside the
theorem, so its verdict is not-applicable by construction; the claim still reports what the
runs show (linf_ratio with its interval, whether the box binds, whether they converged), the
counterexample the suite runs it as.

Cases: Adam-direction decoupled configurations at λ > 0 with β1 > β2 (those with β1 ≤ β2 are
claim 1's). Statistic: the final linf_ratio, as in claim 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.claims import conditions, judging, records
from bench.claims.base import CaseVerdict, Claim, ClaimVerdict, Outcome, Statistic, SuiteRun
from bench.claims.xie_li_box import QUADRATIC

CLAIM_ID = "3"
STATISTIC = Statistic("linf_ratio", "final λ‖x‖∞ of AdamW at β1 > β2, mean over seeds "
                      "(reported; the theorem does not apply)", (None, conditions.BOX_THRESHOLD))


def _beta1_above_beta2(trial: records.TrialView) -> bool:
    beta1, beta2 = conditions.adam_betas(trial)
    return beta1 > beta2


def outside_theorem(case: records.Case, trials: Sequence[records.TrialView]) -> CaseVerdict:
    gates = [conditions.binds_box(case, trials),
             conditions.converged(case, metric=STATISTIC.metric)]
    verdict = judging.decide(case, STATISTIC, conditions.linf_theorem(case), gates)
    if verdict.outcome is Outcome.NOT_APPLICABLE:  # what the contrast shows, in words
        shown = judging.decide(case, STATISTIC, conditions.Check(True, ""), gates)
        verdict = judging.replace_reason(
            verdict, f"{verdict.reason}; as a contrast: {_reading(shown)}")
    return verdict


def judge(recs: Sequence[Mapping[str, Any]]) -> ClaimVerdict:
    return judging.judge_cases(
        CLAIM_ID, STATISTIC, recs,
        lambda t: (t.row.get("decay") == "decoupled" and t.row.get("direction") == "adam"
                   and _beta1_above_beta2(t)), outside_theorem)


def _reading(shown: Any) -> str:
    return {Outcome.HOLDS: "it ends inside the box all the same",
            Outcome.VIOLATED: "it ends outside the box, a counterexample beyond the theorem",
            Outcome.INCONCLUSIVE: "the runs cannot tell",
            Outcome.NOT_APPLICABLE: "—"}[shown.outcome] + f" ({shown.reason})"


CLAIM = Claim(
    id=CLAIM_ID, slug="beta-contrast", title="AdamW at β1 > β2: outside the theorem",
    source="Xie & Li, ICML 2024 (arXiv 2404.04454), condition β1 ≤ β2",
    statement="The box ‖x‖∞ ≤ 1/λ is proved for β1 ≤ β2 only; AdamW at (0.99, 0.9) is the "
              "contrast: not-applicable, with what it does reported.",
    preconditions=("Adam direction with decoupled decay, λ > 0, β1 > β2: the theorem's "
                   "condition β1 ≤ β2 fails by design, so the verdict is not-applicable",),
    statistic=STATISTIC,
    runs={"smoke": (SuiteRun(QUADRATIC, "smoke"),), "cpu": (SuiteRun(QUADRATIC, "cpu"),),
          "full": (SuiteRun(QUADRATIC, "full", {"task.dim": 100}),)},
    judge=judge)
