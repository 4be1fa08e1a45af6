"""Claim 12. Sfyraki & Wang, "Lions and Muons: Optimization via Stochastic Frank-Wolfe" (2025,
arXiv 2506.04192): Lion with decoupled weight decay λ is stochastic Frank-Wolfe on the box
‖x‖∞ ≤ 1/λ (Muon likewise on a spectral ball), and converges in Frank-Wolfe gap, hence to a
KKT point of min L(x) s.t. ‖x‖∞ ≤ 1/λ, with stochastic (minibatch) gradients. Xie & Li's and
Chen et al.'s results (claims 1, 2, 5) are for full-batch gradients; this claim is the
stochastic case.

The paper bounds the Frank-Wolfe gap of a (randomly drawn or best) iterate under step sizes
tied to the horizon; the benchmark tests the last iterate under a decaying lr, measured on the
exact full-batch gradient (the probe): kkt_residual = fw_gap(x_T)/fw_gap(x_0).

Cases: Lion configurations with decoupled decay at λ > 0 trained on minibatches. Gates:
converged (kkt_residual or a settled last window); for the box part also that it binds (the
λ = 0 twin leaves it). Statistic: the final kkt_residual, mean over seeds; holds when its 95%
interval lies within ±KKT_TOL and the final linf_ratio's interval at or below 1 + INSIDE_TOL
(judging.combine: both must hold), as claim 5 decides full-batch Lion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.claims import conditions, judging, lion_k, records
from bench.claims.base import Claim, ClaimVerdict, Statistic, SuiteRun

CLAIM_ID = "12"
STATISTIC = Statistic("kkt_residual", "final kkt_residual of Lion on minibatch gradients "
                      "against the box 1/λ (exact gradient), mean over seeds (and its "
                      "linf_ratio ≤ 1 + INSIDE_TOL where the box binds)",
                      (-conditions.KKT_TOL, conditions.KKT_TOL))
SUITE = "lion_stochastic_fw"


def stochastic_lion(case: records.Case) -> conditions.Check:
    first = case.first
    if first.row.get("direction") != "lion" or first.row.get("decay") != "decoupled":
        return conditions.Check(False, f"{first.row.get('direction')} direction with "
                                       f"{first.row.get('decay')} decay (the claim is Lion's "
                                       "with decoupled decay)")
    per_epoch = records.number(first.row.get("steps_per_epoch"))
    if per_epoch is None or per_epoch <= 1:
        return conditions.Check(False, "full-batch gradients (the stochastic claim needs "
                                       "minibatches; the full-batch case is claim 5)",
                                {"steps_per_epoch": per_epoch})
    return conditions.Check(True, f"Lion on minibatches ({per_epoch:g} steps per epoch)",
                            {"steps_per_epoch": per_epoch})


def judge(recs: Sequence[Mapping[str, Any]]) -> ClaimVerdict:
    return judging.judge_cases(
        CLAIM_ID, STATISTIC, recs,
        lambda t: t.row.get("direction") == "lion" and t.row.get("decay") == "decoupled",
        lambda case, trials: lion_k.solves_box(case, trials, STATISTIC, stochastic_lion(case)))


CLAIM = Claim(
    id=CLAIM_ID, slug="lion-stochastic-fw",
    title="Lion on minibatches still reaches a KKT point of the box problem",
    source="Sfyraki & Wang, Lions and Muons: Optimization via Stochastic Frank-Wolfe, 2025 "
           "(arXiv 2506.04192)",
    statement="Lion with decoupled weight decay λ, trained on stochastic minibatch gradients, "
              "converges to a KKT point of min L(x) s.t. ‖x‖∞ ≤ 1/λ: inside the box, "
              "kkt_residual (on the exact gradient) → 0.",
    preconditions=("Lion with decoupled decay, λ > 0", "minibatch (stochastic) gradients",
                   "a decaying lr, so that the last iterate can settle; converged",
                   "for the box part: the same setting at λ = 0 leaves the box"),
    statistic=STATISTIC,
    runs={"smoke": (SuiteRun(SUITE, "smoke"),), "cpu": (SuiteRun(SUITE, "cpu"),),
          "full": (SuiteRun(SUITE, "full", {"task.dim": 100}),)},
    judge=judge)
