"""The claims' verdicts on a report's records (SPEC §3b), and verdicts.json beside the index.

Every registered claim (bench/claims/registry.py) judges each report group's records with its
own pure `judge`; a group is one task, budget and data fingerprint, so a verdict never pools
records the report keeps apart. A claim that judges no configuration of a group says nothing
about it and is left out (`untested` lists the claims no group tested). The report renders these
verdicts; it decides none.

verdicts.json (written atomically):
    {"generated": ISO date,
     "counts": {"claims": {holds, violated, inconclusive, not-applicable},
                "verdicts": {...the same four...}},
     "claims": [one object per claim × group: claim, slug, title, source, group, task, budget,
                data_fingerprint, verdict, reason, statistic_name, statistic, interval,
                threshold, cases (count per verdict), figure, trials],
     "verdicts": [one object per claim × optimizer × settings × lr × λ it judges: claim, slug,
                  group, task, budget, data_fingerprint, optimizer, variant, lr, weight_decay,
                  verdict, reason, statistic_name, statistic, interval, threshold, numbers,
                  trials],
     "untested": [claim ids no group tested]}
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.claims.base import CaseVerdict, Claim, ClaimVerdict, Outcome
from bench.ledger.shared_files import write_text
from bench.report.data import Group, ReportData

FILE = "verdicts.json"
OUTCOMES = tuple(o.value for o in Outcome)  # holds, violated, inconclusive, not-applicable


@dataclass(frozen=True)
class Judged:
    """One claim's verdict on one report group."""

    claim: Claim
    group: Group
    verdict: ClaimVerdict

    @property
    def figure_name(self) -> str:
        """File stem of the figure of its statistic per configuration (claim_figures.py)."""
        return f"claim-{self.claim.id}-{self.group.slug}"

    @property
    def anchor(self) -> str:
        """The id of its part of the group page."""
        return f"claim-{self.claim.id}"

    @property
    def href(self) -> str:
        return f"group-{self.group.slug}.html#{self.anchor}"


def judge(data: ReportData, claims: Sequence[Claim] | None = None) -> list[Judged]:
    """Each claim's verdict on each group that holds a configuration it judges (group order,
    then claim order)."""
    if claims is None:
        from bench.claims.registry import claims as registered

        claims = registered()
    out = []
    for group in data.groups:
        records = data.records_of(group)
        for claim in claims:
            verdict = claim.judge(records)
            if verdict.cases:
                out.append(Judged(claim, group, verdict))
    return out


def of_group(judged: Iterable[Judged], group: Group) -> list[Judged]:
    return [j for j in judged if j.group.slug == group.slug]


def untested(judged: Sequence[Judged], claims: Sequence[Claim] | None = None) -> list[Claim]:
    """The registered claims that no group's records tested."""
    if claims is None:
        from bench.claims.registry import claims as registered

        claims = registered()
    seen = {j.claim.id for j in judged}
    return [c for c in claims if c.id not in seen]


def counts(outcomes: Iterable[Outcome | str]) -> dict[str, int]:
    """How many of each of the four verdicts (all four keys, zeros included, in order)."""
    found = [o.value if isinstance(o, Outcome) else str(o) for o in outcomes]
    return {kind: found.count(kind) for kind in OUTCOMES}


def case_counts(judged: Iterable[Judged]) -> dict[str, int]:
    return counts(c.outcome for j in judged for c in j.verdict.cases)


def claim_counts(judged: Iterable[Judged]) -> dict[str, int]:
    return counts(j.verdict.outcome for j in judged)


def _where(j: Judged) -> dict[str, Any]:
    g = j.group
    return {"claim": j.claim.id, "slug": j.claim.slug, "group": g.slug, "task": g.task,
            "budget": g.budget, "data_fingerprint": g.data_fingerprint}


def _statistic(j: Judged) -> dict[str, Any]:
    return {"statistic_name": j.claim.statistic.metric,
            "threshold": j.claim.statistic.threshold}


def claim_object(j: Judged) -> dict[str, Any]:
    body = j.claim.result(j.verdict)  # the claims.json object: the claims' own serialisation
    return {**_where(j), "title": j.claim.title, "source": j.claim.source,
            "verdict": body["verdict"], "reason": body["reason"], **_statistic(j),
            "statistic": body["statistic"], "interval": body["interval"],
            "cases": counts(c.outcome for c in j.verdict.cases),
            "figure": f"plots/{j.figure_name}.png", "page": j.href, "trials": body["trials"]}


def case_object(j: Judged, case: CaseVerdict) -> dict[str, Any]:
    body = case.to_json()
    return {**_where(j), **body, **_statistic(j)}


def document(judged: Sequence[Judged]) -> dict[str, Any]:
    return {"generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "counts": {"claims": claim_counts(judged), "verdicts": case_counts(judged)},
            "claims": [claim_object(j) for j in judged],
            "verdicts": [case_object(j, c) for j in judged for c in j.verdict.cases],
            "untested": [c.id for c in untested(judged)]}


def write(out: Path, judged: Sequence[Judged]) -> Path:
    """out/verdicts.json, written whole or not at all."""
    path = out / FILE
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document(judged), indent=1, ensure_ascii=False, allow_nan=False)
    return write_text(path, text, prefix=".tmp-verdicts-")
