"""Hyper-parameter separability numbers (SPEC §5), in any parametrization of the decay axis.

Given a score per (lr, y) cell, y being λ or η·λ: the best y at each lr, how many grid steps
and decades it moves across lrs (0 = the two separate), and the share of cells near the best.
In the (η, λ) parametrization Loshchilov & Hutter expect decoupled decay to separate; in
(η, ηλ), the EMA timescale 1/(ηλ) of Wang & Aitchison, a best ηλ that stays put means the
timescale, not λ, is what transfers across lrs. The within-k% shares count the same cells in
both parametrizations, so they are computed once."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

DIGITS = 10  # η·λ is rounded to this many significant digits: 1e-3·1e3 and 1e-2·1e2 meet


def lr_wd(lr: pd.Series, weight_decay: pd.Series) -> pd.Series:
    """η·λ per row, rounded so that float noise does not split one grid value in two."""
    return (lr * weight_decay).map(lambda v: float(f"{v:.{DIGITS}g}") if pd.notna(v) else v)


def best_by_lr(value: pd.Series, mode: str) -> dict[float, float]:
    """lr -> the y of the best finite score at that lr (`value` indexed by (lr, y))."""
    out = {}
    for lr, line in value.dropna().groupby(level=0, sort=True):
        line = line.droplevel(0)
        out[lr] = line.idxmin() if mode == "min" else line.idxmax()
    return out


def shift(best: dict[float, float], grid: list[float]) -> tuple[float, float]:
    """(grid steps, decades) the best y moves across lrs; NaN where undefined (no best, or a
    best y of 0 for the decades)."""
    if not best:
        return math.nan, math.nan
    idx = [grid.index(y) for y in best.values()]
    positive = [y for y in best.values() if y > 0]
    decades = (math.log10(max(positive) / min(positive))
               if positive and len(positive) == len(best) else math.nan)
    return float(max(idx) - min(idx)), decades


def within(value: pd.Series, mode: str, pct: float, cells: int) -> float:
    """Share of `cells` within pct% of the best finite score (NaN without one)."""
    finite = value.dropna()
    if not len(finite) or cells == 0:
        return math.nan
    best = finite.min() if mode == "min" else finite.max()
    if best == 0:
        return math.nan
    rel = (finite - best) / abs(best) if mode == "min" else (best - finite) / abs(best)
    return float((rel <= pct / 100 + 1e-12).sum()) / cells


def numbers(value: pd.Series, mode: str) -> dict[str, object]:
    """best_by_lr, shift_steps and shift_decades of scores indexed by (lr, y)."""
    best = best_by_lr(value, mode)
    grid = sorted({y for y in value.index.get_level_values(1) if not np.isnan(y)})
    steps, decades = shift(best, grid)
    return {"best_by_lr": best, "shift_steps": steps, "shift_decades": decades}
