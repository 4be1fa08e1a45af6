"""Mean and 95% Student-t interval over seeds (no scipy dependency for one quantile)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# t_{0.975, df} for df = 1..30; beyond, the Cornish-Fisher expansion around z is accurate
# to 1e-4.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
_Z975 = 1.959964


def t975(df: int) -> float:
    if df < 1:
        raise ValueError("a t interval needs at least 2 values")
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


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


def mean_ci(values: Sequence[float]) -> MeanCI:
    """Mean and 95% t half-width of the finite values."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(xs)
    if n == 0:
        return MeanCI(math.nan, math.nan, 0)
    mean = sum(xs) / n
    if n == 1:
        return MeanCI(mean, math.nan, 1)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    return MeanCI(mean, t975(n - 1) * sd / math.sqrt(n), n)
