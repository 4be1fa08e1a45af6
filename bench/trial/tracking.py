"""Experiment trackers (TensorBoard, W&B, MLflow, ... anything Accelerate's tracking supports).

The ledger stays the source of truth; a tracker is a view for people who already watch runs
there. One tracker run per trial, named by the trial id and grouped by suite; every
evaluation point is logged under the ledger's own metric names, the trial's config as
hyper-parameters. A tracker that fails (not installed, no network, a full disk) is dropped with
one warning line: it never fails a trial.

Where runs land (under the results directory, beside the ledger):
    tensorboard  <out>/trackers/tensorboard/<suite>/<trial id>/
    wandb        project "wdbench", group <suite>, run <trial id>, files in <out>/trackers/
    mlflow       experiment <suite>, run <trial id>, store <out>/trackers/mlflow
    others       run name <trial id>, logging directory <out>/trackers/<tracker>/<suite>
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

PROJECT = "wdbench"


def available() -> list[str]:
    """Tracker names Accelerate knows (whether or not their package is installed)."""
    from accelerate.tracking import LOGGER_TYPE_TO_CLASS

    return sorted(LOGGER_TYPE_TO_CLASS)


def check_names(names: Iterable[str]) -> tuple[str, ...]:
    """Validated tracker names (ValueError naming the bad one and the choices)."""
    out = tuple(dict.fromkeys(n.strip() for n in names if n.strip()))
    known = available()
    bad = [n for n in out if n not in known]
    if bad:
        raise ValueError(f"unknown tracker {bad[0]!r}; use one of: {', '.join(known)}")
    return out


def hparams(config: Mapping[str, Any]) -> dict[str, bool | int | float | str]:
    """A trial config flattened to the scalar types trackers accept (options as opt.NAME)."""
    out: dict[str, bool | int | float | str] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            prefix = {"optimizer_options": "opt", "task_options": "task"}.get(key, key)
            for k, v in hparams(value).items():
                out[f"{prefix}.{k}"] = v
        elif isinstance(value, (bool, int, float, str)):
            out[key] = value
        else:  # None, tuples (betas), lists
            out[key] = str(value)
    return out


def scalars(point: Mapping[str, Any]) -> dict[str, float]:
    """The finite numeric metrics of an evaluation point (its step is passed apart)."""
    return {k: float(v) for k, v in point.items()
            if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(float(v))}


def _construct(name: str, out: Path, trial_id: str, group: str) -> Any:
    from accelerate.tracking import LOGGER_TYPE_TO_CLASS

    cls = LOGGER_TYPE_TO_CLASS[name]
    root = out / "trackers"
    if name == "tensorboard":
        return cls(trial_id, logging_dir=root / "tensorboard" / group)
    if name == "wandb":
        root.mkdir(parents=True, exist_ok=True)
        return cls(PROJECT, name=trial_id, group=group, dir=str(root), reinit=True)
    if name == "mlflow":
        return cls(experiment_name=group, logging_dir=str(root / "mlflow"), run_name=trial_id)
    if getattr(cls, "requires_logging_directory", False):
        return cls(trial_id, logging_dir=root / name / group)
    return cls(trial_id)


class TrialTrackers:
    """The trackers of one trial; every call is guarded so a tracker failure stays a warning."""

    def __init__(self, names: Iterable[str], out: str | Path, trial_id: str,
                 group: str | None, config: Mapping[str, Any]) -> None:
        self.trackers: list[tuple[str, Any]] = []
        for name in names:
            tracker = self._guard(name, lambda n=name: _construct(
                n, Path(out), trial_id, group or "runs"))
            if tracker is None:
                continue
            if self._guard(name, tracker.start) is False:
                continue
            self.trackers.append((name, tracker))
            self._call(name, tracker, "store_init_configuration", hparams(config))

    @staticmethod
    def _guard(name: str, fn: Any) -> Any:
        try:
            result = fn()
        except Exception as err:  # noqa: BLE001 - a tracker must never fail a trial
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            warnings.warn(f"tracker {name} disabled: {first}", RuntimeWarning, stacklevel=3)
            return False
        return True if result is None else result

    def _call(self, name: str, tracker: Any, method: str, *args: Any, **kwargs: Any) -> None:
        ok = self._guard(name, lambda: getattr(tracker, method)(*args, **kwargs))
        if ok is False:
            self.trackers = [(n, t) for n, t in self.trackers if t is not tracker]

    def log(self, point: Mapping[str, Any]) -> None:
        values = scalars(point)
        for name, tracker in list(self.trackers):
            self._call(name, tracker, "log", values, step=int(point.get("step", 0)))

    def finish(self) -> None:
        for name, tracker in list(self.trackers):
            self._call(name, tracker, "finish")
        self.trackers = []
