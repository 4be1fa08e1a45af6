"""The index's opening: the claims table (one row per claim and report group: verdict, the
statistic with its interval, threshold, evidence and a link to the figure that shows it, and a
line saying which records the claims judged) and the headline counting verdicts of all four
kinds. Laid out from bench/report/claim_verdicts.py; nothing here decides."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from bench.claims.base import Claim
from bench.report import claim_verdicts, verdict_text
from bench.report.claim_scope import CLAIMS_RUN
from bench.report.claim_verdicts import Judged
from bench.report.tables import Column, Table

NAME = "claims-table"


def claims_table(judged: Sequence[Judged]) -> Table:
    rows = []
    for j in judged:
        v = j.verdict
        cases = claim_verdicts.counts(c.outcome for c in v.cases)
        rows.append({"claim": verdict_text.claim_label(j.claim), "claim_tip": j.claim.source,
                     "task": " + ".join(f"{g.task} · {g.budget}" for g in j.spans),
                     "task_tip": "; ".join(g.title for g in j.spans),
                     "group_href": f"group-{j.group.slug}.html",
                     "verdict": v.outcome.value,
                     "statistic": v.statistic,
                     "statistic_text": verdict_text.statistic(j.claim, v),
                     "threshold": verdict_text.threshold(j.claim),
                     # One kind per line (the cell keeps line breaks: style.css).
                     "cases": f"{len(v.cases)}:\n" + ",\n".join(
                         verdict_text.count_phrase(cases, every_kind=False).split(", ")),
                     "evidence": v.reason,
                     # A claim that applies to no configuration here has no figure.
                     "figure": "figure" if j.drawn else None,
                     "figure_href": j.href if j.drawn else None,
                     "css": f"verdict-{v.outcome.value}"})
    cols = [Column("claim", kind="text", tip="claim_tip"),
            Column("task", "The report group the claim judged: task and budget (hover: "
                           "and data).", kind="text", link="group_href", tip="task_tip"),
            Column("verdict"), Column("statistic", kind="text", show="statistic_text"),
            Column("threshold"), Column("cases"),
            Column("figure", kind="text", link="figure_href"), Column("evidence")]
    return Table(NAME, "Claims", cols, pd.DataFrame(rows),
                 empty="No claim judged a configuration of these records.",
                 notes=[scope_line(judged)] if judged else [],
                 note="One row per claim and task (budget, data): each claim judges its "
                      "configurations with its own code (SPEC §3b) and the claim holds when "
                      "every applicable one holds, is violated when any is, and is "
                      "inconclusive otherwise. Every configuration's verdict: verdicts.json "
                      "and the tasks' constraint tables.")


def scope_line(judged: Sequence[Judged]) -> str:
    """Which records the claims judged (bench/report/claim_scope.py), in one line."""
    from bench.claims.registry import claims

    scoped = {j.claim.id for j in judged if j.scope == CLAIMS_RUN}
    ids = [c.id for c in claims() if c.id in scoped]  # registry order
    if not ids:
        return "Scope: each claim judged all records of its task."
    run = "claims.json lists (their own suites', as wdbench claims run judged them)"
    if len(ids) == len({j.claim.id for j in judged}):
        return f"Scope: every claim judged the trials {run}."
    return (f"Scope: claim{'s' if len(ids) > 1 else ''} {', '.join(ids)} judged the trials "
            f"{run}; the others all records of their task.")


def headline(judged: Sequence[Judged]) -> str:
    """'Claim verdicts: 1 hold, 0 violated, 3 inconclusive, 1 not-applicable.'"""
    if not judged:
        return "Claim verdicts: none (no claim judged a configuration of these records)."
    return ("Claim verdicts: "
            f"{verdict_text.count_phrase(claim_verdicts.claim_counts(judged))}.")


def headline_detail(judged: Sequence[Judged], untested: Sequence[Claim]) -> str:
    """What the headline counts, the count per configuration, and the claims not tested."""
    text = ""
    if judged:
        text = (f"One verdict per claim and task ({len(judged)}). Per configuration (claim × "
                f"optimizer × settings × lr × λ): "
                f"{verdict_text.count_phrase(claim_verdicts.case_counts(judged))}.")
    if untested:
        text += (" Not tested by these records: "
                 + ", ".join(f"claim {c.id} ({c.slug})" for c in untested)
                 + "; wdbench claims run runs them.")
    return text.strip()


def group_headline(judged: Sequence[Judged]) -> str:
    """A group's sentence: its verdicts per configuration, all four kinds counted."""
    if not judged:
        return "No claim judges a configuration here."
    return ("Claim verdicts per configuration: "
            f"{verdict_text.count_phrase(claim_verdicts.case_counts(judged))}.")
