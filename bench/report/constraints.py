"""Constraint satisfaction: the claims' verdicts (bench/report/claim_verdicts.py) laid out per
configuration (a group page's table) and per optimizer and settings (the index's summary),
beside what was measured there. The verdicts are the claims'; this module only arranges them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bench.claims.base import CaseVerdict, Claim
from bench.claims.conditions import BOX_THRESHOLD
from bench.claims.theory import as_flag
from bench.report import verdict_text
from bench.report.claim_verdicts import Judged
from bench.report.data import Group
from bench.report.tables import Column, Table, variant_column

NOTE = ("Verdicts are the claims' (SPEC §3b; wdbench claims list states each claim, its "
        "preconditions and threshold): holds (✓), violated (✗), inconclusive (?: not "
        "converged, a box that cannot bind, too few seeds, diverged runs) or not-applicable "
        "(–: a precondition fails, e.g. β1 > β2 or a schedule outside the theorem). Hover a "
        "verdict for every claim's reason and numbers; verdicts.json has them all.")
CONFIG = ("optimizer", "variant", "lr", "weight_decay")


def _lead_columns() -> list[Column]:
    """Who, which decay and which schedule: the first columns of both constraint tables."""
    return [Column("optimizer", link="href"), Column("decay"), Column("schedule"),
            Column("schedule_theorem", kind="text", show="schedule_theorem_text")]


def _yes_no(value: object) -> str:
    flag = as_flag(value)
    return "unknown" if flag is None else "yes" if flag else "no"


def by_configuration(judged: Sequence[Judged]
                     ) -> dict[tuple, list[tuple[Claim, CaseVerdict]]]:
    """(optimizer, variant, lr, λ) -> every claim's verdict on that configuration."""
    out: dict[tuple, list[tuple[Claim, CaseVerdict]]] = {}
    for j in judged:
        for case in j.verdict.cases:
            key = (case.optimizer, case.variant, case.lr, case.weight_decay)
            out.setdefault(key, []).append((j.claim, case))
    return out


def _mean(frame: pd.DataFrame, metric: str) -> float:
    return float(frame[metric].mean()) if metric in frame and frame[metric].notna().any() \
        else np.nan


def constraints(group: Group, slugs: dict[str, str], judged: Sequence[Judged]) -> Table:
    """One row per configuration a claim judged: the measured means and every verdict."""
    t = group.trials
    rows = []
    for (opt, variant, lr, wd), verdicts in by_configuration(judged).items():
        frame = t[(t["optimizer"] == opt) & (t["variant"] == variant) & (t["lr"] == lr)
                  & (t["weight_decay"] == wd)]
        if frame.empty:  # a grid-level case (no single lr or λ): the claims table shows it
            continue
        done = frame[frame["status"] == "done"]
        first = frame.iloc[0]
        rows.append({"optimizer": opt, "href": f"optimizer-{slugs.get(opt, opt)}.html",
                     "decay": first.get("decay"), "variant": variant,
                     "schedule": first.get("schedule"),
                     "schedule_theorem": first.get("schedule_theorem"),
                     "schedule_theorem_text": _yes_no(first.get("schedule_theorem")),
                     "lr": lr, "weight_decay": wd, "radius": first.get("radius"),
                     "done": len(done), "done_of": len(frame),
                     "linf_ratio": _mean(done, "linf_ratio"),
                     "kkt_residual": _mean(done, "kkt_residual"),
                     "l2_stationarity": _mean(done, "l2_stationarity"),
                     "verdict": verdict_text.case_cell(verdicts),
                     "verdict_detail": verdict_text.case_detail(verdicts),
                     "outcomes": [v.outcome.value for _, v in verdicts], "_verdicts": verdicts,
                     "css": verdict_text.css([v.outcome for _, v in verdicts])})
    frame = pd.DataFrame(rows)
    if len(frame):
        frame = frame.sort_values(list(CONFIG), kind="stable").reset_index(drop=True)
    means = "Mean over the finished seeds."
    cols = [*_lead_columns(), Column("lr"), Column("weight_decay"),
            Column("radius", "Predicted box radius; — where no box is predicted."),
            Column("done", kind="frac"), Column("linf_ratio", means),
            Column("kkt_residual", means), Column("l2_stationarity", means),
            Column("verdict", kind="text", tip="verdict_detail")]
    variant_column(frame, cols, at=4)
    return Table(f"constraints-{group.slug}", f"Constraint satisfaction: {group.title}", cols,
                 frame, empty="No configuration here is judged by a claim.",
                 note="Each row is one configuration (its seeds pooled), each verdict one "
                      "claim's. " + NOTE)


def constraint_summary(group: Group, detail: Table) -> Table:
    """The index's view: one row per optimizer and settings, pooling its configurations."""
    frame = detail.frame
    t = group.trials
    rows = []
    if len(frame):
        for (opt, variant), f in frame.groupby(["optimizer", "variant"], sort=True):
            first = f.iloc[0]
            trials = t[(t["optimizer"] == opt) & (t["variant"] == variant)
                       & t["weight_decay"].isin(f["weight_decay"])]
            done = trials[trials["status"] == "done"]
            box = pd.notna(first["radius"])
            ratios = done["linf_ratio"].dropna() if "linf_ratio" in done else pd.Series()
            outcomes = [o for row in f["outcomes"] for o in row]
            rows.append({"optimizer": opt, "href": first["href"], "variant": variant,
                         "decay": first["decay"], "schedule": first["schedule"],
                         "schedule_theorem": first["schedule_theorem"],
                         "schedule_theorem_text": first["schedule_theorem_text"],
                         "configurations": len(f),
                         "inside": int((ratios <= BOX_THRESHOLD).sum()) if box else np.nan,
                         "inside_of": len(ratios),
                         "max_linf_ratio": ratios.max() if len(ratios) else np.nan,
                         "verdict": _summary_text(f), "css": verdict_text.css(outcomes)})
    table = pd.DataFrame(rows)
    cols = [*_lead_columns(), Column("configurations"),
            Column("inside", kind="frac"), Column("max_linf_ratio"),
            Column("verdict", "Per claim, over the configurations; the task's page has each "
                              "configuration.", kind="text")]
    variant_column(table, cols, at=3)
    return Table(f"constraint-summary-{group.slug}", "Constraint satisfaction (summary)", cols,
                 table, empty="No configuration here is judged by a claim.",
                 note="Each row pools the configurations (lr, λ) of one optimizer and "
                      "settings. " + NOTE)


def _summary_text(rows: pd.DataFrame) -> str:
    """'claim 1: 2 hold, 1 inconclusive; claim 2: 3 inconclusive' from a group's rows."""
    by_claim: dict[str, tuple[Claim, list[CaseVerdict]]] = {}
    for verdicts in rows["_verdicts"]:
        for claim, case in verdicts:
            by_claim.setdefault(claim.id, (claim, []))[1].append(case)
    return verdict_text.per_claim_counts(dict(sorted(by_claim.items(),
                                                     key=lambda kv: int(kv[0]))))
