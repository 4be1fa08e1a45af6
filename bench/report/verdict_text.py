"""The claims' verdicts (bench/claims) in words: marks, counts, cell texts and the statistic
with its interval. Words only; every verdict and reason was decided by the claim's code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bench.claims.base import CaseVerdict, Claim, ClaimVerdict, Outcome
from bench.claims.judging import describe_band, observed
from bench.report.claim_verdicts import counts

MARKS = {"holds": "✓", "violated": "✗", "inconclusive": "?", "not-applicable": "–"}
# A count reads "2 hold", "1 violated", ...
COUNTED = {"holds": "hold", "violated": "violated", "inconclusive": "inconclusive",
           "not-applicable": "not-applicable"}
# Which verdict colours a row that shows several (the most telling first).
PRECEDENCE = ("violated", "inconclusive", "holds", "not-applicable")


def value(outcome: Outcome | str) -> str:
    return outcome.value if isinstance(outcome, Outcome) else str(outcome)


def count_phrase(counts: Mapping[str, int], every_kind: bool = True) -> str:
    """'2 hold, 0 violated, 3 inconclusive, 1 not-applicable' (every_kind=False: the
    non-zero ones only)."""
    parts = [f"{n} {COUNTED[k]}" for k, n in counts.items() if every_kind or n]
    return ", ".join(parts) or "none"


def css(outcomes: Sequence[Outcome | str]) -> str | None:
    """The row class of a row showing these verdicts ('verdict-violated', ...)."""
    found = {value(o) for o in outcomes}
    return next((f"verdict-{k}" for k in PRECEDENCE if k in found), None)


def statistic(claim: Claim, verdict: ClaimVerdict | CaseVerdict) -> str:
    """'linf_ratio 0.998 [0.996, 1]': the statistic's mean over seeds and 95% interval."""
    return observed(claim.statistic.metric, verdict.statistic, verdict.interval)


def interval(verdict: ClaimVerdict | CaseVerdict) -> str | None:
    if verdict.interval is None:
        return None
    low, high = verdict.interval
    return f"[{low:.4g}, {high:.4g}]"


def threshold(claim: Claim) -> str:
    return describe_band(claim.statistic.band)


def claim_label(claim: Claim) -> str:
    return f"{claim.id}. {claim.title}"


def case_cell(by_claim: Sequence[tuple[Claim, CaseVerdict]]) -> str:
    """One configuration's verdicts: '1 ✓ holds · 2 ? inconclusive'."""
    return " · ".join(f"{c.id} {MARKS[v.outcome.value]} {v.outcome.value}" for c, v in by_claim)


def case_detail(by_claim: Sequence[tuple[Claim, CaseVerdict]]) -> str:
    """Every claim's verdict on one configuration with its reason (the hover text)."""
    return " | ".join(f"claim {c.id} ({c.slug}): {v.outcome.value}: {v.reason}"
                      for c, v in by_claim)


def per_claim_counts(by_claim: Mapping[str, tuple[Claim, list[CaseVerdict]]]) -> str:
    """Several configurations, per claim: 'claim 1: 2 hold, 1 inconclusive; claim 2: ...'."""
    return "; ".join(f"claim {c.id}: {count_phrase(counts(v.outcome for v in cases), False)}"
                     for c, cases in by_claim.values())
