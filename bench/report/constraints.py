"""Constraint satisfaction: per optimizer, settings and λ, the verdict of bench/analysis/verdicts.py
(inside the predicted box? coupled: ℓ2-stationary?), and the index's summary per optimizer."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.analysis import verdicts
from bench.analysis.verdicts import INSIDE_TOL, STATIONARY_TOL, Agreement, Reason
from bench.report import verdict_text
from bench.report.data import Group
from bench.report.tables import Column, Table, variant_column

NOTE = (f"Inside means linf_ratio ≤ {1 + INSIDE_TOL}; ℓ2-stationary means l2_stationarity < "
        f"{STATIONARY_TOL}. The theorem (SPEC §1) predicts the box only for "
        "ℓ∞-steepest-descent directions (Adam, SignGD, Lion) with a decay style that implies "
        "a radius, under a non-increasing schedule with divergent sum, and only once training "
        "converges; for coupled decay the claim checked is ℓ2-stationarity.")


def _lead_columns() -> list[Column]:
    """Who, which decay and which schedule: the first columns of both constraint tables."""
    return [Column("optimizer", link="href"), Column("decay"), Column("schedule"),
            Column("schedule_theorem", kind="text", show="schedule_theorem_text")]


def _yes_no(value: object) -> str:
    flag = verdicts.as_flag(value)
    return "unknown" if flag is None else "yes" if flag else "no"


def constraints(group: Group, slugs: dict[str, str]) -> Table:
    """Per optimizer, settings and λ: the verdict and what it was read from."""
    rows = []
    keys = ["optimizer", "variant", "weight_decay"]
    for (opt, variant, wd), frame in group.trials.groupby(keys, sort=True, dropna=False):
        ev = verdicts.evidence(frame.to_dict("records"))
        v = verdicts.judge(ev)
        if v.reason is Reason.NO_DECAY:
            continue
        first = frame.iloc[0]
        done = frame[frame["status"] == "done"]
        context = {"schedule": ev.schedule, "norm": ev.norm, "decay": ev.decay}
        o = v.observed
        row = {"optimizer": opt, "href": f"optimizer-{slugs[opt]}.html", "decay": ev.decay,
               "norm": ev.norm, "variant": variant, "schedule": ev.schedule,
               "schedule_theorem": ev.schedule_theorem,
               "schedule_theorem_text": _yes_no(ev.schedule_theorem), "weight_decay": wd,
               "radius": first.get("radius"), "done": ev.finished, "trials": ev.trials,
               # No box predicted: linf_ratio is shown for comparison, not counted.
               "inside": o["inside"] if ev.radius is not None else np.nan,
               "inside_of": o["inside_of"],
               "max_linf_ratio": o["max_linf_ratio"] if o["inside_of"] else np.nan,
               "agreement": v.agreement.value, "reason": v.reason.value,
               "verdict": f"{v.agreement.value}: {v.reason.value}",
               "verdict_text": verdict_text.short(v, context),
               "verdict_detail": verdict_text.sentence(v, context), "_verdict": v}
        for metric in ("fw_gap_rel", "l2_stationarity"):
            row[f"{metric}_median"] = done[metric].median() if metric in done else np.nan
        rows.append(row)
    frame = pd.DataFrame(rows)
    cols = [*_lead_columns(), Column("weight_decay"),
            Column("radius", "Predicted box radius; — where no box is predicted."),
            Column("inside", kind="frac"), Column("max_linf_ratio"),
            Column("fw_gap_rel_median"), Column("l2_stationarity_median"),
            Column("verdict", kind="text", show="verdict_text", tip="verdict_detail")]
    variant_column(frame, cols, at=3)
    return Table(f"constraints-{group.slug}", f"Constraint satisfaction: {group.title}", cols,
                 frame, empty="No finished trial to check.",
                 note="Each row pools every learning rate and seed at one λ. " + NOTE)


def constraint_summary(group: Group, detail: Table) -> Table:
    """The index's view: one row per optimizer and settings, pooling its λ rows."""
    frame = detail.frame
    rows = []
    if len(frame):
        for (opt, variant), f in frame.groupby(["optimizer", "variant"], sort=True):
            first = f.iloc[0]
            found = list(f["_verdict"])
            counts = f["agreement"].value_counts()
            context = {"schedule": first["schedule"], "norm": first["norm"],
                       "decay": first["decay"]}
            parts = []
            for agreement, agrees in ((Agreement.AGREES, True), (Agreement.DISAGREES, False)):
                mine = [(v, w) for v, w in zip(found, f["weight_decay"])
                        if v.agreement is agreement]
                if mine:
                    word = verdict_text.agreement_word(mine[0][0].claim, agrees)
                    parts.append(f"{word} at λ = " + ", ".join(f"{w:.3g}" for _, w in mine))
            no_claim = [v for v in found if v.agreement is Agreement.NO_CLAIM]
            if no_claim:
                whys = sorted({verdict_text.why_no_claim(v, context) for v in no_claim})
                parts.append(f"no claim at {len(no_claim)} λ: {'; '.join(whys)}")
            if counts.get(Agreement.NO_DATA.value):
                parts.append(f"no data at {counts[Agreement.NO_DATA.value]} λ")
            agreement = ("disagrees" if counts.get("disagrees") else
                         "agrees" if counts.get("agrees") else "no-claim")
            box = first["radius"] is not None and pd.notna(first["radius"])
            rows.append({"optimizer": opt, "href": first["href"], "variant": variant,
                         "decay": first["decay"], "schedule": first["schedule"],
                         "schedule_theorem": first["schedule_theorem"],
                         "schedule_theorem_text": first["schedule_theorem_text"],
                         "lambdas": len(f),
                         "inside": int(f["inside"].sum()) if box else np.nan,
                         "inside_of": int(f["inside_of"].sum()),
                         "max_linf_ratio": f["max_linf_ratio"].max(),
                         "l2_stationarity_median": f["l2_stationarity_median"].median(),
                         "verdict": agreement, "verdict_text": "; ".join(parts) or "—",
                         "agreement": agreement})
    table = pd.DataFrame(rows)
    cols = [*_lead_columns(), Column("lambdas"),
            Column("inside", "All λ, lrs and seeds.", kind="frac"),
            Column("max_linf_ratio"), Column("l2_stationarity_median"),
            Column("verdict", "Per λ; details on the task's page.", kind="text",
                   show="verdict_text")]
    variant_column(table, cols, at=3)
    note = ("Each row pools every λ, learning rate and seed of one optimizer (the verdict is "
            "given per λ). " + NOTE)
    return Table(f"constraint-summary-{group.slug}", "Constraint satisfaction (summary)", cols,
                 table, empty="No finished trial to check.", note=note)


def agreement_counts(table: Table) -> dict[str, int]:
    if not len(table.frame):
        return {}
    return table.frame["agreement"].value_counts().to_dict()
