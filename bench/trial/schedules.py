"""Learning-rate schedules as multipliers of the peak lr, step t = 0, 1, 2, ...

The implicit-bias theorem (Xie & Li 2024) needs a non-increasing schedule whose partial sums
diverge: `constant` and `inverse_sqrt` qualify; cosine decay to zero over a fixed horizon and
warmup (increasing at first) do not.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from bench.errors import UsageError


@dataclass(frozen=True)
class Schedule:
    name: str
    schedule_theorem: bool  # non-increasing with divergent partial sums (the record key)
    description: str


SCHEDULES = {
    "constant": Schedule("constant", True, "eta_t = eta"),
    "inverse_sqrt": Schedule("inverse_sqrt", True, "eta_t = eta / sqrt(t + 1)"),
    "cosine": Schedule("cosine", False, "cosine decay from eta to 0 over the run"),
    "warmup_cosine": Schedule("warmup_cosine", False,
                              "linear warmup over `warmup` steps, then cosine to 0"),
}


def get(name: str) -> Schedule:
    if name not in SCHEDULES:
        raise UsageError(f"unknown schedule {name!r}; use one of: {', '.join(SCHEDULES)}")
    return SCHEDULES[name]


def multiplier(name: str, total_steps: int, warmup: int = 0) -> Callable[[int], float]:
    """The function t -> eta_t / eta for LambdaLR (t counts optimizer steps from 0)."""
    get(name)
    total = max(total_steps, 1)

    def cosine(t: int, start: int = 0) -> float:
        progress = min(max(t - start, 0) / max(total - start, 1), 1.0)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    if name == "constant":
        return lambda t: 1.0
    if name == "inverse_sqrt":
        return lambda t: 1.0 / math.sqrt(t + 1)
    if name == "cosine":
        return cosine
    return lambda t: (t + 1) / warmup if t < warmup else cosine(t, warmup)
