"""Which trials each training-curve series draws: every optimizer at its selected
configuration and, where an optimizer's own settings vary (a `variant`, e.g. its betas), each
variant at its own selected (lr, λ). A variant outside a theorem (AdamW with β1 > β2) is then
drawn beside the one inside it instead of being hidden by the selection."""

from __future__ import annotations

import re

import pandas as pd

from bench.analysis import ranking
from bench.report import tables
from bench.report.data import Group

KEYS = ["optimizer", "variant", "lr", "weight_decay"]
# A variant's colour: its optimizer's, mixed toward black (< 1) or white (> 1).
SHADES = (1.0, 0.45, 1.6, 0.7, 1.3)


def curve_series(group: Group, best: pd.DataFrame | None, colors: dict[str, tuple]
                 ) -> tuple[pd.DataFrame, dict[str, str], dict[str, tuple]]:
    """(trial id -> series, series -> decay style, colours with the variants' added).

    A series is named by its optimizer, or 'optimizer · variant' for an optimizer whose
    settings vary."""
    if best is None or best.empty:
        return pd.DataFrame(columns=["id", "series"]), {}, colors
    cfg = tables.configs(group)
    n_variants = cfg.groupby("optimizer")["variant"].nunique()
    picks = []
    for _, row in best.iterrows():
        opt = row["optimizer"]
        if n_variants.get(opt, 1) <= 1:
            picks.append(row.to_frame().T.assign(series=opt))
            continue
        for variant, frame in cfg[cfg["optimizer"] == opt].groupby("variant", sort=True):
            pick = ranking.best_per_optimizer(frame, group.selection)
            picks.append(pick.assign(series=f"{opt} · {compact(variant)}" if variant else opt))
    chosen = pd.concat(picks, ignore_index=True).dropna(subset=["lr"])
    styles = dict(zip(chosen["series"], chosen["decay"]))
    colors = dict(colors)
    for opt, frame in chosen.groupby("optimizer", sort=False):
        base = colors.get(opt)
        for k, series in enumerate(s for s in frame["series"] if s != opt):
            if base is not None:
                colors[series] = _shade(base, SHADES[k % len(SHADES)])
    t = group.trials[group.trials["status"].isin(["done", "diverged"])]
    chosen = chosen[KEYS + ["series"]].astype({"lr": float, "weight_decay": float})
    ids = t.merge(chosen, on=KEYS)[["id", "series"]]
    return ids, styles, colors


def compact(variant: str) -> str:
    """'betas=[0.99,0.9]' for 'optimizer_options={betas=[0.99, 0.9]}': a legend's width."""
    text = re.sub(r"\b(?:optimizer|task)_options=\{([^{}]*)\}", r"\1", variant)
    return re.sub(r",\s+(?=[^\[\]]*\])", ",", text)  # no spaces inside [...]


def _shade(color: tuple, factor: float) -> tuple:
    if factor <= 1:
        return tuple(c * factor for c in color)
    return tuple(c + (1 - c) * (factor - 1) for c in color)
