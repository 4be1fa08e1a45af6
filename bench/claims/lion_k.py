"""Claim 5. Chen, Liu, Liang & Liu, "Lion Secretly Solves Constrained Optimization: As Lyapunov
Predicts" (ICLR 2024, arXiv 2310.05898): Lion with decoupled weight decay λ solves
min L(x) s.t. ‖x‖∞ ≤ 1/λ (Lion-𝒦 with 𝒦 the ℓ1 norm, whose conjugate is the box's indicator).

"Solves" is two statements, both decided: the end point is feasible (linf_ratio, as claim 1,
where the box binds) and it is a KKT point (kkt_residual, as claim 2). Cases: Lion
configurations with decoupled decay at λ > 0. The reported statistic is the kkt_residual.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.claims import conditions, judging, records, xie_li_box, xie_li_kkt
from bench.claims.base import CaseVerdict, Claim, ClaimVerdict, Statistic, SuiteRun
from bench.claims.xie_li_box import QUADRATIC

CLAIM_ID = "5"
STATISTIC = Statistic("kkt_residual", "final kkt_residual of Lion against the box 1/λ, mean "
                      "over seeds (and its linf_ratio ≤ 1 + INSIDE_TOL where the box binds)",
                      (-conditions.KKT_TOL, conditions.KKT_TOL))


def solves_box(case: records.Case, trials: Sequence[records.TrialView],
               statistic: Statistic, applicable: conditions.Check) -> CaseVerdict:
    """Lion solves the box problem in this case: a KKT point (claim 2's test, reported under
    `statistic`) inside the box (claim 1's), both must hold. Claim 12 judges minibatch Lion
    with it."""
    return judging.combine(xie_li_kkt.at_kkt_point(case, applicable, statistic),
                           xie_li_box.in_box(case, trials, applicable))


def judge(recs: Sequence[Mapping[str, Any]]) -> ClaimVerdict:
    return judging.judge_cases(
        CLAIM_ID, STATISTIC, recs,
        lambda t: t.row.get("direction") == "lion" and t.row.get("decay") != "coupled",
        lambda case, trials: solves_box(case, trials, STATISTIC, conditions.linf_theorem(case)))


CLAIM = Claim(
    id=CLAIM_ID, slug="lion-k-box", title="Lion with decoupled decay solves the box problem",
    source="Chen, Liu, Liang & Liu, Lion Secretly Solves Constrained Optimization: As Lyapunov "
           "Predicts, ICLR 2024 (arXiv 2310.05898)",
    statement="Lion with decoupled weight decay λ converges to a solution (a KKT point) of "
              "min L(x) s.t. ‖x‖∞ ≤ 1/λ: inside the box, kkt_residual → 0.",
    preconditions=("Lion direction with decoupled decay, λ > 0",
                   "non-increasing schedule with divergent sum", "full-batch gradients",
                   "converged", "for the box part: the same setting at λ = 0 leaves the box"),
    statistic=STATISTIC,
    runs={"smoke": (SuiteRun(QUADRATIC, "smoke"),), "cpu": (SuiteRun(QUADRATIC, "cpu"),),
          "full": (SuiteRun(QUADRATIC, "full", {"task.dim": 100}),)},
    judge=judge)
