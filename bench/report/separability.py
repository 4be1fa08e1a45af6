"""Hyper-parameter separability (SPEC §5): how far the best λ, and the best η·λ, move across
learning rates, and how much of the lr × λ grid is near the best (numbers:
bench/measures/separability.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.measures import separability as sep
from bench.report.data import Group
from bench.report.tables import Column, Table, configs, variant_column


def separability(group: Group, slugs: dict[str, str]) -> Table:
    """SPEC §5 in the (η, λ) and (η, ηλ) parametrizations; share of the grid near the best."""
    cfg = configs(group)
    cfg["lr_wd"] = sep.lr_wd(cfg["lr"], cfg["weight_decay"])
    sel = group.selection
    rows = []
    for (opt, variant), frame in cfg.groupby(["optimizer", "variant"], sort=True):
        value = frame[sel.metric] if sel.metric in frame else pd.Series(np.nan, frame.index)
        # A cell counts only when every seed finished (a diverged seed makes it unusable).
        value = value.where(frame["done"] == frame["n"])
        by_wd = sep.numbers(pd.Series(value.to_numpy(), pd.MultiIndex.from_frame(
            frame[["lr", "weight_decay"]])), sel.mode)
        by_lr_wd = sep.numbers(pd.Series(value.to_numpy(), pd.MultiIndex.from_frame(
            frame[["lr", "lr_wd"]])), sel.mode)
        # The grid the suite asked for: lr × λ, or lr × τ where λ was derived from τ.
        axis = "tau" if "tau" in frame and frame["tau"].notna().all() else "weight_decay"
        cells = frame["lr"].nunique() * frame[axis].nunique()
        row = {"optimizer": opt, "href": f"optimizer-{slugs[opt]}.html", "variant": variant,
               "decay": frame["decay"].iloc[0],
               "best_wd_by_lr": _pairs(by_wd["best_by_lr"]),
               "wd_shift_steps": by_wd["shift_steps"],
               "wd_shift_decades": by_wd["shift_decades"],
               "best_lr_wd_by_lr": _pairs(by_lr_wd["best_by_lr"]),
               "lr_wd_shift_steps": by_lr_wd["shift_steps"],
               "lr_wd_shift_decades": by_lr_wd["shift_decades"],
               "cells": int(value.notna().sum()), "cells_of": cells}
        for pct in (1, 5):
            row[f"within_{pct}"] = sep.within(value, sel.mode, pct, cells)
        rows.append(row)
    frame = pd.DataFrame(rows)
    cols = [Column("optimizer", link="href"), Column("decay"),
            Column("best_wd_by_lr", f"Selection metric: {sel.metric}.", kind="text"),
            Column("wd_shift_steps"), Column("wd_shift_decades"),
            Column("best_lr_wd_by_lr", kind="text"), Column("lr_wd_shift_steps"),
            Column("lr_wd_shift_decades"), Column("within_1"), Column("within_5"),
            Column("cells", kind="frac")]
    variant_column(frame, cols, at=2)
    if len(frame):
        frame["cells_of"] = frame["cells_of"].astype(int)
    return Table(f"separability-{group.slug}", f"Hyper-parameter separability: {group.title}",
                 cols, frame, empty="No finished configuration.",
                 note="Loshchilov & Hutter: with decoupled decay the best λ should stay put "
                      "as lr changes (shift 0) and a wide share of the grid should be near "
                      "the best. Wang & Aitchison: the best η·λ (the EMA timescale "
                      "1/(ηλ)) should stay put instead. The within shares count the same "
                      "cells in both parametrizations.")


def _pairs(best: dict[float, float]) -> str:
    return "; ".join(f"{lr:.3g}→{w:.3g}" for lr, w in best.items())
