"""Intervals and tests over seeds, from scipy.stats (tested quantiles, not a hand-typed table).

- `mean_ci`: mean and 95% Student-t interval of the finite values.
- `paired_test`: an optimizer's difference to the leader on the seeds both ran (same init and
  data order, so the seeds pair): mean Δ, its t interval, and the paired t-test's p-value.
- `bootstrap_ci`: a percentile-bootstrap interval of the mean, where enough seeds allow it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
# Below this many values a bootstrap resamples too few distinct sets to mean anything.
MIN_BOOTSTRAP = 5


def _finite(values: Sequence[float | None]) -> np.ndarray:
    xs = np.array([float(v) for v in values if v is not None], dtype=float)
    return xs[np.isfinite(xs)]


@dataclass(frozen=True)
class MeanCI:
    mean: float
    half_width: float  # NaN with fewer than 2 values
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width


def t_quantile(df: int, confidence: float = CONFIDENCE) -> float:
    """The two-sided Student-t quantile t_{(1+c)/2, df}."""
    if df < 1:
        raise ValueError("a t interval needs at least 2 values")
    return float(stats.t.ppf((1.0 + confidence) / 2.0, df))


def mean_ci(values: Sequence[float | None], confidence: float = CONFIDENCE) -> MeanCI:
    """Mean and Student-t half-width of the finite values (NaN half-width below 2 values)."""
    xs = _finite(values)
    n = len(xs)
    if n == 0:
        return MeanCI(math.nan, math.nan, 0)
    mean = float(xs.mean())
    if n == 1:
        return MeanCI(mean, math.nan, 1)
    sem = float(stats.sem(xs))
    return MeanCI(mean, t_quantile(n - 1, confidence) * sem, n)


@dataclass(frozen=True)
class PairedTest:
    """Δ = mine - reference over paired seeds, with the paired t-test of Δ = 0."""

    delta: MeanCI
    p_value: float  # NaN below 2 pairs, or when every Δ is identical
    test: str = "paired t-test (scipy.stats.ttest_rel)"


def paired_test(mine: Sequence[float], reference: Sequence[float]) -> PairedTest:
    """Pairs where both values are finite; a constant non-zero Δ has p = 0, an all-zero Δ 1."""
    a = np.asarray(mine, dtype=float)
    b = np.asarray(reference, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired values need equal lengths ({a.shape} vs {b.shape})")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    delta = mean_ci((a - b).tolist())
    if len(a) < 2:
        return PairedTest(delta, math.nan)
    d = a - b
    if np.all(d == d[0]):
        # No spread: the t statistic is undefined; the difference is exact (or exactly none).
        return PairedTest(delta, 1.0 if d[0] == 0 else 0.0)
    return PairedTest(delta, float(stats.ttest_rel(a, b).pvalue))


def bootstrap_ci(values: Sequence[float | None], confidence: float = CONFIDENCE,
                 seed: int = 0) -> tuple[float, float] | None:
    """Percentile-bootstrap interval of the mean, or None below MIN_BOOTSTRAP finite values."""
    xs = _finite(values)
    if len(xs) < MIN_BOOTSTRAP:
        return None
    if np.all(xs == xs[0]):
        return float(xs[0]), float(xs[0])
    res = stats.bootstrap((xs,), np.mean, confidence_level=confidence, method="percentile",
                          n_resamples=2000, random_state=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)
