"""From checks and a statistic to verdicts: one case (a configuration, seeds pooled), then the
claim (its cases together). Pure functions; the claim modules call them in this order:

    applicable = conditions.linf_theorem(case)            # a failed precondition: n/a
    gates = [conditions.binds_box(case, trials), conditions.converged(case, ...)]
    verdict = judging.decide(case, STATISTIC, applicable, gates)
    ...
    return judging.aggregate(CLAIM_ID, STATISTIC, case_verdicts)

`judge_cases` is that loop for a claim that judges each configuration on its own: the trials
at λ > 0 that the claim selects, pooled into cases, each judged, the verdicts aggregated.

`decide` adds the common gates itself (every seed finished, at least MIN_SEEDS seeds) and, when
every gate passes, compares the 95% interval of the statistic's mean over seeds
(bench/analysis/stats.py:mean_ci) with the statistic's band: inside it holds, wholly outside
it is violated, straddling it is inconclusive. A not-applicable case still reports its numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from bench.analysis.stats import mean_ci
from bench.claims import records
from bench.claims.base import CaseVerdict, ClaimVerdict, Outcome, Statistic
from bench.claims.conditions import Check, enough_seeds, finished
from bench.claims.records import Case, TrialView

CaseJudge = Callable[[Case, Sequence[TrialView]], CaseVerdict]  # (case, all trials) -> verdict


def interval_of(values: Sequence[float]) -> tuple[float | None, tuple[float, float] | None]:
    """Mean and 95% t interval over seeds (no interval below two values)."""
    ci = mean_ci(values)
    if ci.n == 0:
        return None, None
    if ci.n < 2 or math.isnan(ci.half_width):
        return ci.mean, None
    return ci.mean, (ci.low, ci.high)


def band_outcome(interval: tuple[float, float], band: tuple[float | None, float | None]
                 ) -> Outcome:
    low, high = interval
    lo_b, hi_b = band
    if (lo_b is None or low >= lo_b) and (hi_b is None or high <= hi_b):
        return Outcome.HOLDS
    if (hi_b is not None and low > hi_b) or (lo_b is not None and high < lo_b):
        return Outcome.VIOLATED
    return Outcome.INCONCLUSIVE


def margin(interval: tuple[float, float] | None, band: tuple[float | None, float | None]
           ) -> float:
    """Signed distance of the interval to the band's edge: > 0 inside, < 0 outside."""
    if interval is None:
        return math.inf
    low, high = interval
    lo_b, hi_b = band
    sides = [hi_b - high if hi_b is not None else math.inf,
             low - lo_b if lo_b is not None else math.inf]
    return min(sides)


def describe_band(band: tuple[float | None, float | None]) -> str:
    lo_b, hi_b = band
    if lo_b is not None and hi_b is not None:
        return f"[{lo_b:g}, {hi_b:g}]"
    return f"≤ {hi_b:g}" if hi_b is not None else f"≥ {lo_b:g}"


def observed(metric: str, mean: float | None, interval: tuple[float, float] | None) -> str:
    if mean is None:
        return f"no {metric} recorded"
    if interval is None:
        return f"{metric} {mean:.4g}"
    return f"{metric} {mean:.4g} [{interval[0]:.4g}, {interval[1]:.4g}]"


def decide(case: Case, statistic: Statistic, applicable: Check, gates: Sequence[Check] = (),
           numbers: Mapping[str, Any] | None = None,
           values: Sequence[float] | None = None) -> CaseVerdict:
    """The verdict on one case (see the module doc). `values`: the statistic per seed where
    the claim derives it (from curves, or from a grid of configurations) instead of reading
    the final metric `statistic.metric` of each finished seed."""
    values = case.values(statistic.metric) if values is None else list(values)
    mean, interval = interval_of(values)
    seen = observed(statistic.metric, mean, interval)
    all_numbers = {statistic.metric: mean, "values": values, **(numbers or {}),
                   **applicable.numbers}
    for gate in gates:
        all_numbers.update(gate.numbers)

    used = tuple(dict.fromkeys((*case.ids, *(i for g in gates for i in g.trials))))

    def verdict(outcome: Outcome, reason: str) -> CaseVerdict:
        first = case.first
        return CaseVerdict(first.optimizer, first.variant, first.lr, first.weight_decay,
                           outcome, reason, mean, interval, all_numbers, used)

    if not applicable.ok:
        return verdict(Outcome.NOT_APPLICABLE, f"precondition fails: {applicable.phrase}; "
                                               f"observed {seen}")
    failing = [g.phrase for g in (finished(case), enough_seeds(values, statistic.metric),
                                  *gates) if not g.ok]
    if failing:
        return verdict(Outcome.INCONCLUSIVE, "; ".join(failing) + f"; observed {seen}")
    outcome = band_outcome(interval, statistic.band)
    relation = {Outcome.HOLDS: "inside", Outcome.VIOLATED: "outside",
                Outcome.INCONCLUSIVE: "straddles"}[outcome]
    passed = "; ".join(g.phrase for g in gates)
    return verdict(outcome, f"{seen} {relation} {describe_band(statistic.band)}"
                            + (f" ({passed})" if passed else ""))


def label(case: CaseVerdict) -> str:
    """'adamw (betas=[0.9, 0.99]) lr=0.05 λ=2' (lr and λ left out where the case is a grid
    over them)"""
    variant = f" ({case.variant})" if case.variant else ""
    lr = f" lr={case.lr:g}" if case.lr is not None else ""
    wd = f" λ={case.weight_decay:g}" if case.weight_decay is not None else ""
    return f"{case.optimizer}{variant}{lr}{wd}"


def aggregate(claim_id: str, statistic: Statistic, cases: Sequence[CaseVerdict]
              ) -> ClaimVerdict:
    """The claim holds when every applicable case holds; it is violated when any case is;
    otherwise inconclusive. With no applicable case it is not applicable. The claim's
    statistic is that of the deciding case: the worst violation, the first inconclusive case,
    or the holding case closest to the threshold."""
    cases = tuple(cases)
    if not cases:
        return ClaimVerdict(claim_id, Outcome.INCONCLUSIVE, "no trial of this claim is "
                            f"recorded; run `wdbench claims run {claim_id}`")
    by = {o: [c for c in cases if c.outcome is o] for o in Outcome}
    n_applicable = len(cases) - len(by[Outcome.NOT_APPLICABLE])
    skipped = (f"; {len(by[Outcome.NOT_APPLICABLE])} case(s) not applicable"
               if by[Outcome.NOT_APPLICABLE] and n_applicable else "")

    def verdict(outcome: Outcome, head: str, case: CaseVerdict) -> ClaimVerdict:
        return ClaimVerdict(claim_id, outcome, f"{head}: {label(case)}: {case.reason}{skipped}",
                            case.statistic, case.interval, cases)

    if not n_applicable:
        return verdict(Outcome.NOT_APPLICABLE, f"all {len(cases)} case(s) not applicable",
                       cases[0])
    if by[Outcome.VIOLATED]:
        worst = min(by[Outcome.VIOLATED], key=lambda c: margin(c.interval, statistic.band))
        return verdict(Outcome.VIOLATED, f"{len(by[Outcome.VIOLATED])} of {n_applicable} "
                                         "case(s) violated; worst", worst)
    if by[Outcome.INCONCLUSIVE]:
        return verdict(Outcome.INCONCLUSIVE, f"{len(by[Outcome.INCONCLUSIVE])} of "
                                             f"{n_applicable} case(s) inconclusive; first",
                       by[Outcome.INCONCLUSIVE][0])
    tightest = min(by[Outcome.HOLDS], key=lambda c: margin(c.interval, statistic.band))
    return verdict(Outcome.HOLDS, f"all {n_applicable} case(s) hold; closest to the "
                                  "threshold", tightest)


def decayed_cases(recs: Sequence[Mapping[str, Any]], select: Callable[[TrialView], bool]
                  ) -> tuple[list[TrialView], list[Case]]:
    """Every trial of `recs` (a claim's gates look at twins and partners among them), and
    the cases of those at λ > 0 that `select` keeps."""
    trials = records.views(recs)
    return trials, records.cases([t for t in trials if t.weight_decay > 0 and select(t)])


def judge_cases(claim_id: str, statistic: Statistic, recs: Sequence[Mapping[str, Any]],
                select: Callable[[TrialView], bool], judge_case: CaseJudge) -> ClaimVerdict:
    """The claim's verdict: `judge_case` on each case of `decayed_cases`, aggregated."""
    trials, cases = decayed_cases(recs, select)
    return aggregate(claim_id, statistic, [judge_case(case, trials) for case in cases])


def replace_reason(case: CaseVerdict, reason: str) -> CaseVerdict:
    return replace(case, reason=reason)


def combine(primary: CaseVerdict, *others: CaseVerdict) -> CaseVerdict:
    """One case judged on several statistics: not-applicable if any is, else violated if any
    is, else inconclusive if any is, else holds; the primary statistic is reported and every
    reason is kept."""
    parts = (primary, *others)
    for outcome in (Outcome.NOT_APPLICABLE, Outcome.VIOLATED, Outcome.INCONCLUSIVE):
        if any(p.outcome is outcome for p in parts):
            break
    else:
        outcome = Outcome.HOLDS
    numbers = {}
    for p in reversed(parts):
        numbers.update(p.numbers)
    used = tuple(dict.fromkeys(i for p in parts for i in p.trials))
    return replace(primary, outcome=outcome, reason=" | ".join(p.reason for p in parts),
                   numbers=numbers, trials=used)
