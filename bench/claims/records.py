"""Ledger records as the claims read them: one `TrialView` per record (the flat row of
bench/ledger/store.py:flatten plus the curve and the task instance), grouped into cases.

A case is a configuration: every Trial field but the seed. Its `variant` is the report's
(bench/analysis/ranking.py:variants: the config fields besides lr and λ that vary between one
optimizer's trials of one task). A trial's λ = 0 twin (same config but weight_decay, same
seed) is the reference the binding test reads (bench/claims/conditions.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.claims.theory import as_flag

# Config fields that name the λ axis: a trial's λ = 0 twin differs from it only in these.
DECAY_FIELDS = ("weight_decay", "tau")


@dataclass(frozen=True)
class TrialView:
    record: Mapping[str, Any]
    row: Mapping[str, Any]  # flatten(record)
    variant: str = ""

    @property
    def id(self) -> str:
        return str(self.record["id"])

    @property
    def status(self) -> str:
        return str(self.record["status"])

    @property
    def config(self) -> Mapping[str, Any]:
        return self.record.get("config") or {}

    @property
    def optimizer(self) -> str:
        return str(self.config.get("optimizer"))

    @property
    def lr(self) -> float | None:
        return number(self.config.get("lr"))

    @property
    def weight_decay(self) -> float:
        return number(self.config.get("weight_decay")) or 0.0

    @property
    def seed(self) -> int:
        return int(self.config.get("seed") or 0)

    @property
    def final(self) -> Mapping[str, Any]:
        return self.record.get("final") or {}

    @property
    def curve(self) -> list[Mapping[str, Any]]:
        return list(self.record.get("curve") or [])

    @property
    def optimizer_options(self) -> Mapping[str, Any]:
        return self.config.get("optimizer_options") or {}

    @property
    def task_options(self) -> Mapping[str, Any]:
        """The task's resolved options (defaults included) where recorded, else the config's."""
        return (self.record.get("task") or {}).get("options") or \
            self.config.get("task_options") or {}

    @property
    def instance(self) -> Mapping[str, Any]:
        return (self.record.get("task") or {}).get("instance") or {}

    @property
    def schedule_theorem(self) -> bool | None:
        return as_flag(self.row.get("schedule_theorem"))

    @property
    def radius(self) -> float | None:
        return number(self.row.get("radius"))

    def metric(self, key: str) -> float | None:
        """A final metric as a finite float, None where absent or not finite."""
        return number(self.final.get(key))

    def case_key(self) -> str:
        """Everything that defines the configuration (the config without the seed)."""
        return _key(self.config, ("seed",))

    def twin_key(self) -> str:
        """The key its λ = 0 twins share with it (the config without λ and the seed)."""
        return _key(self.config, (*DECAY_FIELDS, "seed"))


def number(value: Any) -> float | None:
    """A finite float, or None (missing, null, NaN, a bool or text)."""
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _key(config: Mapping[str, Any], drop: Iterable[str]) -> str:
    dropped = set(drop)
    return json.dumps({k: v for k, v in config.items() if k not in dropped}, sort_keys=True,
                      default=str)


class SharedRecords(Sequence):
    """Records that several claims judge in turn (a report group's, a claims run's): their
    views are built once, on the first claim's `views` call, not once per claim."""

    def __init__(self, records: Iterable[Mapping[str, Any]]) -> None:
        self._records = tuple(records)
        self._views: tuple[TrialView, ...] | None = None

    def __getitem__(self, index):
        return self._records[index]

    def __len__(self) -> int:
        return len(self._records)

    def views(self) -> list[TrialView]:
        if self._views is None:
            self._views = tuple(_views(self._records))
        return list(self._views)


def views(records: Iterable[Mapping[str, Any]]) -> list[TrialView]:
    """Each record as a TrialView, with the report's variant label (the variants depend on
    every record passed: they are the fields that vary among them)."""
    if isinstance(records, SharedRecords):
        return records.views()
    return _views(records)


def _views(records: Iterable[Mapping[str, Any]]) -> list[TrialView]:
    import pandas as pd

    from bench.analysis.ranking import variants
    from bench.ledger.store import flatten

    records = list(records)
    rows = [flatten(dict(r)) for r in records]
    if not rows:
        return []
    frame = pd.DataFrame(rows)
    labels = pd.Series("", index=frame.index, dtype=object)
    for _task, group in frame.groupby("task", dropna=False):  # as the report: per task
        labels[group.index] = variants(group)
    return [TrialView(r, row, str(v)) for r, row, v in zip(records, rows, labels)]


@dataclass(frozen=True)
class Case:
    """One configuration's trials (its seeds), in a stable order."""

    trials: tuple[TrialView, ...]

    @property
    def first(self) -> TrialView:
        return self.trials[0]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.trials)

    @property
    def done(self) -> tuple[TrialView, ...]:
        return tuple(t for t in self.trials if t.status == "done")

    def values(self, key: str) -> list[float]:
        """The final metric over the finished seeds that recorded it."""
        return [v for v in (t.metric(key) for t in self.done) if v is not None]


def cases(trials: Sequence[TrialView]) -> list[Case]:
    """Trials grouped by configuration, ordered by optimizer, variant, lr, λ."""
    groups: dict[str, list[TrialView]] = {}
    for t in trials:
        groups.setdefault(t.case_key(), []).append(t)
    out = [Case(tuple(sorted(g, key=lambda t: t.seed))) for g in groups.values()]
    return sorted(out, key=lambda c: (c.first.optimizer, c.first.variant, c.first.lr or 0.0,
                                      c.first.weight_decay))


def twins(case: Case, trials: Sequence[TrialView]) -> list[TrialView]:
    """The λ = 0 trials of the same configuration and seeds as `case`."""
    key = case.first.twin_key()
    seeds = {t.seed for t in case.trials}
    return [t for t in trials if t.weight_decay == 0 and t.twin_key() == key
            and t.seed in seeds]
