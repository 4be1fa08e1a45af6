"""Time-to-target and performance profiles, as AlgoPerf scores training algorithms.

- A task declares, per budget, a target for its validation metric. A trial's steps-to-target
  is the first step its curve reaches the target, interpolated linearly between the two
  evaluations around the crossing; time-to-target the same on the curve's elapsed training
  seconds. Never reached: infinity.
- Across the tasks (workloads) of a results directory, an optimizer's performance profile is
  ρ(τ) = share of tasks on which its time-to-target is within a factor τ of the best
  optimizer's on that task; its score is the area under ρ for τ in [1, τ_max], divided by
  (τ_max − 1), so 1 means fastest everywhere and 0 never reaching a target within τ_max.

Pure functions of numbers: no I/O, no rendering.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

TAU_MAX = 4.0
INF = math.inf


def _reached(value: float, target: float, mode: str) -> bool:
    return value <= target if mode == "min" else value >= target


def crossing(xs: Sequence[float], values: Sequence[float | None], target: float,
             mode: str = "min") -> float:
    """The x at which `values` first reach `target`, interpolated linearly; INF if never.

    Points with a missing or non-finite value are skipped (an evaluation that was not made)."""
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    prev: tuple[float, float] | None = None
    for x, v in zip(xs, values):
        if v is None or not math.isfinite(v) or x is None or not math.isfinite(x):
            continue
        if _reached(v, target, mode):
            if prev is None or prev[1] == v:
                return float(x)
            x0, v0 = prev
            return float(x0 + (target - v0) * (x - x0) / (v - v0))
        prev = (float(x), float(v))
    return INF


def to_target(curve: Sequence[Mapping[str, Any]], metric: str, target: float,
              mode: str = "min", clock: Sequence[float] | None = None) -> dict[str, float]:
    """steps_to_target and time_to_target_s of one trial's curve (INF where never reached).

    `clock` holds the elapsed training seconds at each curve point; without it (or with one
    of another length) the time is NaN."""
    steps = [p.get("step") for p in curve]
    values = [p.get(metric) for p in curve]
    out = {"steps_to_target": crossing(steps, values, target, mode)}
    if clock is not None and len(clock) == len(curve) and len(curve):
        out["time_to_target_s"] = crossing(list(clock), values, target, mode)
    else:
        out["time_to_target_s"] = math.nan
    return out


def performance_ratios(times: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """times[task][optimizer] -> ratio to the task's best time (INF where not reached or where
    no optimizer reached the target on that task)."""
    ratios: dict[str, dict[str, float]] = {}
    for task, per_opt in times.items():
        finite = [t for t in per_opt.values() if math.isfinite(t) and t >= 0]
        best = min(finite) if finite else INF
        ratios[task] = {opt: (t / best if math.isfinite(t) and math.isfinite(best) and best > 0
                              else 1.0 if t == best == 0 else INF)
                        for opt, t in per_opt.items()}
    return ratios


def profile(times: Mapping[str, Mapping[str, float]], taus: Sequence[float] | None = None
            ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """ρ_s(τ) on a grid of τ in [1, TAU_MAX], for every optimizer that appears in any task.

    An optimizer missing from a task counts as never reaching its target there."""
    grid = np.asarray(taus if taus is not None else np.linspace(1.0, TAU_MAX, 301), float)
    ratios = performance_ratios(times)
    optimizers = sorted({o for per in times.values() for o in per})
    n_tasks = max(len(ratios), 1)
    curves = {}
    for opt in optimizers:
        r = np.array([ratios[task].get(opt, INF) for task in ratios], float)
        curves[opt] = np.array([(r <= tau).sum() / n_tasks for tau in grid])
    return grid, curves


def profile_scores(times: Mapping[str, Mapping[str, float]],
                   tau_max: float = TAU_MAX) -> dict[str, float]:
    """Area under each optimizer's profile over [1, tau_max], normalized to [0, 1].

    Exact for the step function ρ (no grid): each task contributes (tau_max − r)/(tau_max − 1)
    when its ratio r ≤ tau_max."""
    ratios = performance_ratios(times)
    optimizers = sorted({o for per in times.values() for o in per})
    n_tasks = max(len(ratios), 1)
    return {opt: sum(max(0.0, tau_max - r) / (tau_max - 1.0)
                     for r in (ratios[t].get(opt, INF) for t in ratios)
                     if math.isfinite(r)) / n_tasks
            for opt in optimizers}
