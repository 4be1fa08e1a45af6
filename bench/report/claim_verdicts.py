"""The claims' verdicts on a report's records (SPEC §3b), and verdicts.json beside the index.

Every registered claim (bench/claims/registry.py) judges records with its own pure `judge`;
only the records it is given depend on its scope (bench/report/claim_scope.py):
  - "claims run": a claim that a results directory's claims.json lists (`wdbench claims run`)
    judges, once, the records of the trials listed there (its own suites'), in their order, so
    that its verdict, statistic and interval are claims.json's. It is shown on the group its
    trials lie in; one whose suites span several tasks shows on each, with that task's cases.
  - "all records": every other claim judges each report group's records; a group is one task,
    budget and data fingerprint, so such a verdict never pools records the report keeps apart.
Either way one claim has one verdict per group at most, never two. A claim that judges no
configuration says nothing and is left out (`untested` lists the claims nothing tested). The
report renders these verdicts; it decides none.

verdicts.json (written atomically):
    {"generated": ISO date,
     "counts": {"claims": {holds, violated, inconclusive, not-applicable},
                "verdicts": {...the same four...}},
     "claims": [one object per claim × group: claim, slug, title, source, group, task, budget,
                data_fingerprint, groups (all it spans), scope ("claims run" or "all
                records"), verdict, reason, statistic_name, statistic, interval, threshold,
                cases (count per verdict), figure, page, trials],
     "verdicts": [one object per claim × optimizer × settings × lr × λ it judges: claim, slug,
                  group, task, budget, data_fingerprint, optimizer, variant, lr, weight_decay,
                  verdict, reason, statistic_name, statistic, interval, threshold, numbers,
                  trials],
     "untested": [claim ids no group tested]}
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.claims.base import CaseVerdict, Claim, ClaimVerdict, Outcome
from bench.claims.records import SharedRecords
from bench.ledger.shared_files import write_text
from bench.report.claim_scope import ALL_RECORDS, CLAIMS_RUN
from bench.report.data import Group, ReportData

FILE = "verdicts.json"
OUTCOMES = tuple(o.value for o in Outcome)  # holds, violated, inconclusive, not-applicable


@dataclass(frozen=True)
class Judged:
    """One claim's verdict on one report group (a claims run's verdict: on the groups its
    trials lie in, shown on the first)."""

    claim: Claim
    group: Group
    verdict: ClaimVerdict
    scope: str = ALL_RECORDS  # which records it judged (claim_scope.py)
    groups: tuple[Group, ...] = ()  # every group its trials lie in; (): `group` alone

    @property
    def spans(self) -> tuple[Group, ...]:
        return self.groups or (self.group,)

    @property
    def drawn(self) -> bool:
        """Whether it gets a figure: it judged some configuration (one that applies to none
        here has only its reason to show)."""
        return any(c.outcome is not Outcome.NOT_APPLICABLE for c in self.verdict.cases)

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


def judge(data: ReportData, claims: Sequence[Claim] | None = None,
          listed: Mapping[str, Sequence[str]] | None = None) -> list[Judged]:
    """Each claim's verdict (group order, then claim order): a claim in `listed` (claim id ->
    trial ids: claim_scope.listed) once, on those trials' records; every other one on each
    group that holds a configuration it judges."""
    if claims is None:
        from bench.claims.registry import claims as registered

        claims = registered()
    listed = listed or {}
    scoped = {c.id: _on_listed(data, c, listed[c.id]) for c in claims if c.id in listed}
    out = []
    for group in data.groups:
        records = SharedRecords(data.records_of(group))  # views built once for every claim
        for claim in claims:
            if claim.id in listed:
                mine = scoped[claim.id]
                if mine is not None and mine.group is group:
                    out.append(mine)
                continue
            verdict = claim.judge(records)
            if verdict.cases:
                out.append(Judged(claim, group, verdict))
    return out


def _on_listed(data: ReportData, claim: Claim, ids: Sequence[str]) -> Judged | None:
    """The claim judged on the records of `ids` (those the ledgers hold, in that order)."""
    verdict = claim.judge([data.records[i] for i in ids if i in data.records])
    used = set(verdict.trials)
    groups = tuple(g for g in data.groups if g.ids & used)
    if not verdict.cases or not groups:
        return None
    return Judged(claim, groups[0], verdict, CLAIMS_RUN, groups)


def of_group(judged: Iterable[Judged], group: Group) -> list[Judged]:
    """The verdicts a group's page shows; one that spans several groups shows there with the
    cases of this group's trials (its outcome, statistic and reason are the whole claim's)."""
    out = []
    for j in judged:
        if len(j.spans) > 1 and any(g.slug == group.slug for g in j.spans):
            cases = tuple(c for c in j.verdict.cases if _group_of(j, c).slug == group.slug)
            out.append(replace(j, group=group, verdict=replace(j.verdict, cases=cases)))
        elif j.group.slug == group.slug:
            out.append(j)
    return out


def _group_of(j: Judged, case: CaseVerdict) -> Group:
    """The group a case's trials lie in (one configuration: one task, budget and data)."""
    return next((g for g in j.spans if g.ids & set(case.trials)), j.group)


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


def _where(j: Judged, g: Group) -> dict[str, Any]:
    return {"claim": j.claim.id, "slug": j.claim.slug, "group": g.slug, "task": g.task,
            "budget": g.budget, "data_fingerprint": g.data_fingerprint}


def _statistic(j: Judged) -> dict[str, Any]:
    return {"statistic_name": j.claim.statistic.metric,
            "threshold": j.claim.statistic.threshold}


def claim_object(j: Judged, figures: bool = True) -> dict[str, Any]:
    body = j.claim.result(j.verdict)  # the claims.json object: the claims' own serialisation
    return {**_where(j, j.group), "groups": [g.slug for g in j.spans], "scope": j.scope,
            "title": j.claim.title, "source": j.claim.source, "verdict": body["verdict"],
            "reason": body["reason"], **_statistic(j), "statistic": body["statistic"],
            "interval": body["interval"],
            "cases": counts(c.outcome for c in j.verdict.cases),
            "figure": f"plots/{j.figure_name}.png" if figures and j.drawn else None,
            "page": j.href,
            "trials": body["trials"]}


def case_object(j: Judged, case: CaseVerdict) -> dict[str, Any]:
    body = case.to_json()
    return {**_where(j, _group_of(j, case)), **body, **_statistic(j)}


def document(judged: Sequence[Judged], figures: bool = True) -> dict[str, Any]:
    return {"generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "counts": {"claims": claim_counts(judged), "verdicts": case_counts(judged)},
            "claims": [claim_object(j, figures) for j in judged],
            "verdicts": [case_object(j, c) for j in judged for c in j.verdict.cases],
            "untested": [c.id for c in untested(judged)]}


def write(out: Path, judged: Sequence[Judged], figures: bool = True) -> Path:
    """out/verdicts.json, written whole or not at all. A claim's "figure" is null where none
    is drawn: a report built without figures, or a claim that judged no configuration."""
    path = out / FILE
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document(judged, figures), indent=1, ensure_ascii=False, allow_nan=False)
    return write_text(path, text, prefix=".tmp-verdicts-")
