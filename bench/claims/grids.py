"""Hyper-parameter grids as the claims read them (claims 8 and 9): one optimizer's trials over
an (x, y) grid, e.g. lr × λ, scored per seed on a validation metric (a claim's `Score`; by
default the task's selection metric); the best y at each x comes from
bench/measures/separability.py, the numbers the report's separability table shows (reused,
not re-derived).

A grid is a `records.Case` whose trials differ in the grid's axes and the seed. Per seed, a
cell that did not finish (diverged or failed) has no score: it loses the argmax, as in the
report, where a cell counts only when it finished.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence

import pandas as pd

from bench.claims.conditions import Check
from bench.claims.records import Case, TrialView, number
from bench.measures import separability

Axis = Callable[[TrialView], float | None]
Score = tuple[str, str]  # (final metric, 'min' | 'max')


def selection(trial: TrialView) -> Score:
    """(metric, 'min' | 'max') the trial's task selects hyper-parameters on: the record's,
    else the task class's, else val_loss (min)."""
    metric, mode = trial.row.get("selection_metric"), trial.row.get("selection_mode")
    if isinstance(metric, str) and metric:
        return metric, str(mode or "min")
    try:
        import tasks

        cls = tasks.get(trial.config.get("task"))
        return cls.selection_metric, cls.selection_mode
    except Exception:  # an unknown task: the loss
        return "val_loss", "min"


def grids(trials: Iterable[TrialView], axes: Sequence[str]) -> list[Case]:
    """Trials grouped by config without the config fields `axes` and the seed (task options
    named 'task.NAME'), ordered by optimizer."""
    groups: dict[str, list[TrialView]] = {}
    for t in trials:
        groups.setdefault(_key(t, axes), []).append(t)
    out = [Case(tuple(sorted(g, key=lambda t: (t.seed, t.id)))) for g in groups.values()]
    return sorted(out, key=lambda c: (c.first.optimizer, c.first.variant))


def _key(trial: TrialView, axes: Sequence[str]) -> str:
    config = dict(trial.config)
    task_options = dict(config.pop("task_options", None) or {})
    for axis in axes:
        if axis.startswith("task."):
            task_options.pop(axis[len("task."):], None)
        else:
            config.pop(axis, None)
    config.pop("seed", None)
    return json.dumps({**config, "task_options": task_options}, sort_keys=True, default=str)


def scores(case: Case, x: Axis, y: Axis, score: Score | None = None) -> dict[int, pd.Series]:
    """seed -> the score (default: the selection metric) indexed by (x, y) (NaN where the
    cell did not finish)."""
    metric, _ = score or selection(case.first)
    out: dict[int, dict[tuple[float, float], float]] = {}
    for t in case.trials:
        xv, yv = x(t), y(t)
        if xv is None or yv is None:
            continue
        value = t.metric(metric) if t.status == "done" else None
        out.setdefault(t.seed, {})[(xv, yv)] = math.nan if value is None else value
    return {seed: pd.Series(cells, index=pd.MultiIndex.from_tuples(list(cells)), dtype=float)
            for seed, cells in sorted(out.items())}


def best_by_x(case: Case, x: Axis, y: Axis, score: Score | None = None
              ) -> dict[int, dict[float, float]]:
    """seed -> {x: the y of the best score at that x}."""
    _, mode = score or selection(case.first)
    return {seed: separability.best_by_lr(s, mode)
            for seed, s in scores(case, x, y, score).items()}


def shift_decades(case: Case, x: Axis, y: Axis, score: Score | None = None
                  ) -> dict[int, float | None]:
    """seed -> how many decades the best y moves across x (separability.numbers), None where
    undefined (a best y of 0, or no finished cell)."""
    _, mode = score or selection(case.first)
    out = {}
    for seed, s in scores(case, x, y, score).items():
        value = separability.numbers(s, mode)["shift_decades"]
        out[seed] = None if value is None or math.isnan(value) else float(value)
    return out


def pooled_best(case: Case, x: Axis, y: Axis, score: Score | None = None
                ) -> dict[float, float]:
    """{x: the y of the best mean score over seeds} (a cell counts only where every seed
    finished, as in the report)."""
    _, mode = score or selection(case.first)
    per_seed = list(scores(case, x, y, score).values())
    if not per_seed:
        return {}
    frame = pd.concat(per_seed, axis=1)
    mean = frame.mean(axis=1, skipna=False)  # a missing seed leaves the cell without a score
    return separability.best_by_lr(mean, mode)


def no_failures(case: Case) -> Check:
    """A failed trial (an error, not a divergence) leaves a hole the argmax cannot see past."""
    failed = [t.id for t in case.trials if t.status == "failed"]
    if failed:
        return Check(False, f"{len(failed)} of {len(case.trials)} grid trials failed")
    diverged = sum(t.status == "diverged" for t in case.trials)
    return Check(True, f"{len(case.trials)} grid trials" + (
        f" ({diverged} diverged: those cells lose)" if diverged else ""),
        {"grid_trials": len(case.trials), "diverged": diverged})


def axis_values(case: Case, axis: Axis) -> list[float]:
    return sorted({v for v in (axis(t) for t in case.trials) if v is not None})


def lr(trial: TrialView) -> float | None:
    return trial.lr


def weight_decay(trial: TrialView) -> float | None:
    return trial.weight_decay


def lr_wd(trial: TrialView) -> float | None:
    """η·λ, rounded as the report rounds it (separability.DIGITS)."""
    if trial.lr is None:
        return None
    return float(f"{trial.lr * trial.weight_decay:.{separability.DIGITS}g}")


def tau_epoch(trial: TrialView) -> float | None:
    value = number(trial.row.get("tau_epoch"))
    return None if value is None else float(f"{value:.{separability.DIGITS}g}")
