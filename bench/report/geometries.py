"""Each optimizer in every geometry: at its selected configuration, the final ratio ‖x‖/r in
the ℓ∞ box, the spectral ball and the ℓ2 ball, and in its own geometry (`ball_ratio`: each
tensor in the norm its direction is steepest for), beside the distances to the known optima
where the task has them (the quadratics). Theory predicts ≤ 1 in the optimizer's own geometry
only: AdamW inside the box and outside the spectral ball, Muon the reverse."""

from __future__ import annotations

import pandas as pd

from bench.report.data import Group
from bench.report.tables import Column, Table, selected_trials

RATIOS = ("ball_ratio", "linf_ratio", "spectral_ratio", "l2_ratio")
DISTANCES = ("dist_spectral", "dist_box", "dist_l2")


def geometry_table(group: Group, slugs: dict[str, str]) -> Table | None:
    """None where the records carry no per-geometry ratios (older records)."""
    t = group.trials
    if "spectral_ratio" not in t or t["spectral_ratio"].isna().all():
        return None
    rows = []
    for b, sel in selected_trials(group):
        if sel.empty:
            continue
        row = {"optimizer": b["optimizer"], "href": f"optimizer-{slugs[b['optimizer']]}.html",
               "direction": b.get("direction"), "decay": b.get("decay"), "lr": b["lr"],
               "weight_decay": b["weight_decay"]}
        for key in (*RATIOS, *DISTANCES):
            if key in sel and sel[key].notna().any():
                row[key] = sel[key].mean()
        rows.append(row)
    frame = pd.DataFrame(rows)
    cols = [Column("optimizer", link="href"), Column("direction"), Column("decay"),
            Column("lr"), Column("weight_decay")]
    cols += [Column(k, "Mean over the selected configuration's seeds.")
             for k in (*RATIOS, *DISTANCES) if k in frame and frame[k].notna().any()]
    return Table(f"geometries-{group.slug}", f"Every optimizer in every geometry: "
                 f"{group.title}", cols, frame, note=__doc__.split("\n\n")[0].replace("\n", " "))
