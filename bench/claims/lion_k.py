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

from bench.claims import conditions, judging, records, xie_li_box
from bench.claims.base import Claim, ClaimVerdict, Statistic, SuiteRun
from bench.claims.xie_li_box import QUADRATIC

CLAIM_ID = "5"
STATISTIC = Statistic("kkt_residual", "final kkt_residual of Lion against the box 1/λ, mean "
                      "over seeds (and its linf_ratio ≤ 1 + INSIDE_TOL where the box binds)",
                      (-conditions.KKT_TOL, conditions.KKT_TOL))


def judge(recs: Sequence[Mapping[str, Any]]) -> ClaimVerdict:
    trials = records.views(recs)
    judged = [t for t in trials if t.weight_decay > 0 and t.row.get("direction") == "lion"
              and t.row.get("decay") != "coupled"]
    verdicts = []
    for case in records.cases(judged):
        applicable = conditions.linf_theorem(case)
        kkt = judging.decide(case, STATISTIC, applicable,
                             [conditions.converged(case, metric=STATISTIC.metric)])
        box = judging.decide(case, xie_li_box.STATISTIC, applicable,
                             [conditions.binds_box(case, trials),
                              conditions.converged(case, metric="linf_ratio")])
        verdicts.append(judging.combine(kkt, box))
    return judging.aggregate(CLAIM_ID, STATISTIC, verdicts)


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
