"""Hyper-parameter separability (SPEC §5): how far the best λ moves across learning rates,
and how much of the lr × λ grid is near the best."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bench.report.data import Group
from bench.report.tables import Column, Table, configs, variant_column


def separability(group: Group, slugs: dict[str, str]) -> Table:
    """SPEC §5: how far the best λ moves across lrs; share of the grid near the best."""
    cfg = configs(group)
    sel = group.selection
    rows = []
    for (opt, variant), frame in cfg.groupby(["optimizer", "variant"], sort=True):
        scores = frame.set_index(["lr", "weight_decay"])
        value = scores[sel.metric] if sel.metric in scores else pd.Series(np.nan, scores.index)
        # A cell counts only when every seed finished (a diverged seed makes it unusable).
        value = value.where(scores["done"] == scores["n"])
        grid = value.unstack("weight_decay")
        wds = sorted(grid.columns)
        best_wd = {}
        for lr, line in grid.iterrows():
            line = line.dropna()
            if len(line):
                best_wd[lr] = line.idxmin() if sel.mode == "min" else line.idxmax()
        idx = [wds.index(w) for w in best_wd.values()]
        positive = [w for w in best_wd.values() if w > 0]
        finite = value.dropna()
        best = (finite.min() if sel.mode == "min" else finite.max()) if len(finite) else np.nan
        row = {"optimizer": opt, "href": f"optimizer-{slugs[opt]}.html", "variant": variant,
               "decay": frame["decay"].iloc[0],
               "best_wd_by_lr": "; ".join(f"{lr:.3g}→{w:.3g}" for lr, w in best_wd.items()),
               "wd_shift_steps": (max(idx) - min(idx)) if idx else np.nan,
               "wd_shift_decades": (math.log10(max(positive) / min(positive))
                                    if len(positive) == len(best_wd) and positive else np.nan),
               "cells": len(finite), "cells_of": grid.size}
        for pct in (1, 5):
            if len(finite) and best != 0:
                rel = (finite - best) / abs(best) if sel.mode == "min" else \
                    (best - finite) / abs(best)
                row[f"within_{pct}"] = float((rel <= pct / 100 + 1e-12).sum()) / grid.size
            else:
                row[f"within_{pct}"] = np.nan
        rows.append(row)
    frame = pd.DataFrame(rows)
    cols = [Column("optimizer", link="href"), Column("decay"),
            Column("best_wd_by_lr", f"Selection metric: {sel.metric}.", kind="text"),
            Column("wd_shift_steps"), Column("wd_shift_decades"), Column("within_1"),
            Column("within_5"), Column("cells", kind="frac")]
    variant_column(frame, cols, at=2)
    if len(frame):
        frame["cells_of"] = frame["cells_of"].astype(int)
    return Table(f"separability-{group.slug}", f"Hyper-parameter separability: {group.title}",
                 cols, frame, empty="No finished configuration.",
                 note="Loshchilov & Hutter: with decoupled decay the best λ should stay put "
                      "as lr changes (shift 0) and a wide share of the grid should be near "
                      "the best.")
