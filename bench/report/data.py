"""Ledger records -> the frames the report works on, split into comparable groups.

A group is (task, budget, data fingerprint): results from different budgets or data are never
compared in one leaderboard. Inside a group a *configuration* is every Trial field but the
seed; `variant` names the fields besides lr and weight_decay that vary (e.g. the schedule)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from bench.store import Ledger, flatten

GROUP_KEYS = ("task", "budget", "data_fingerprint")
# Trial fields that do not define a configuration for selection purposes.
_NOT_CONFIG = {"task", "optimizer", "lr", "weight_decay", "seed", "budget", "checkpoint_every",
               "eval_every"}


@dataclass(frozen=True)
class Selection:
    """The validation metric hyper-parameters are chosen on, and in which direction."""

    metric: str
    mode: str  # 'min' | 'max'

    def better(self, a: float, b: float) -> bool:
        return a < b if self.mode == "min" else a > b

    @property
    def ascending(self) -> bool:
        return self.mode == "min"


@dataclass
class Group:
    task: str
    budget: str
    data_fingerprint: str
    selection: Selection
    trials: pd.DataFrame  # rows of this group only
    slug: str
    cache: dict[str, Any] = field(default_factory=dict, repr=False)  # derived tables

    @property
    def title(self) -> str:
        return f"{self.task} · budget {self.budget} · data {self.data_fingerprint}"


@dataclass
class ReportData:
    trials: pd.DataFrame
    curves: pd.DataFrame
    per_tensor: pd.DataFrame
    groups: list[Group]
    sources: list[str]


def load(dirs: Iterable[str | os.PathLike]) -> ReportData:
    """Read every record once (the store's loaders would read the files three times)."""
    dirs = expand(dirs)
    seen: set[str] = set()
    rows, curve_rows, tensor_rows = [], [], []
    for d in dirs:
        for record in Ledger(d).records():
            if record.get("id") in seen:  # the same trial in two directories counts once
                continue
            seen.add(record["id"])
            rows.append(_row(record))
            curve_rows.extend({"id": record["id"], **p} for p in record.get("curve") or [])
            tensor_rows.extend({"id": record["id"], "tensor": name, **m}
                               for name, m in (record.get("per_tensor") or {}).items())
    trials = pd.DataFrame(rows)
    curves = pd.DataFrame(curve_rows)
    per_tensor = pd.DataFrame(tensor_rows)
    groups = _groups(trials) if len(trials) else []
    return ReportData(trials, curves, per_tensor, groups, dirs)


def expand(dirs: Iterable[str | os.PathLike]) -> list[str]:
    """A directory without trials/ stands for the ledgers one level below it, so that
    `wdbench report results` covers results/quadratic, results/wikitext, ..."""
    from pathlib import Path

    out: list[str] = []
    for d in map(Path, dirs):
        nested = sorted(p.parent for p in d.glob("*/trials") if p.is_dir())
        out += [str(d)] if (d / "trials").is_dir() or not nested else [str(p) for p in nested]
    return out


def _row(record: dict[str, Any]) -> dict[str, Any]:
    row = flatten(record)
    cfg = record.get("config", {})
    # The config's values win over same-named final metrics (e.g. the last scheduled lr).
    row.update({k: cfg.get(k) for k in ("lr", "weight_decay", "seed", "schedule") if k in cfg})
    row["metric_radius"] = (record.get("optimizer") or {}).get("metric_radius")
    extra = {k: v for k, v in cfg.items() if k not in _NOT_CONFIG}
    row["config_extra"] = json.dumps(extra, sort_keys=True, default=str)
    row["error"] = record.get("error")
    row["mask_policy"] = (record.get("mask") or {}).get("policy")
    task = record.get("task") or {}
    row["selection_metric"] = task.get("selection_metric")
    row["selection_mode"] = task.get("selection_mode")
    row["schedule_name"] = (record.get("schedule") or {}).get("name") or cfg.get("schedule")
    for key in ("task", "optimizer", "budget"):
        row[key] = str(row.get(key))
    return row


def _groups(trials: pd.DataFrame) -> list[Group]:
    trials = trials.copy()
    for col in ("data_fingerprint", "decay_style", "radius", "schedule_theorem"):
        if col not in trials:
            trials[col] = None
    _fill_fingerprints(trials)
    trials["data_fingerprint"] = trials["data_fingerprint"].fillna("unknown").astype(str)
    groups = []
    for key, frame in trials.groupby(list(GROUP_KEYS), sort=True, dropna=False):
        frame = frame.copy()
        frame["variant"] = _variants(frame)
        task, budget, fingerprint = (str(k) for k in key)
        groups.append(Group(task, budget, fingerprint, selection_for(task, frame), frame,
                            slug=slugify(f"{task}-{budget}-{fingerprint}")))
    return groups


def _fill_fingerprints(trials: pd.DataFrame) -> None:
    """A trial that failed before its data loaded has no fingerprint: file it under its
    (task, budget)'s only fingerprint when there is exactly one."""
    missing = trials["data_fingerprint"].isna()
    if not missing.any():
        return
    known = trials[~missing].groupby(["task", "budget"])["data_fingerprint"].unique()
    for idx in trials.index[missing]:
        fps = known.get((trials.at[idx, "task"], trials.at[idx, "budget"]))
        if fps is not None and len(fps) == 1:
            trials.at[idx, "data_fingerprint"] = fps[0]


def _variants(frame: pd.DataFrame) -> pd.Series:
    """'schedule=cosine, mask=all' from the config fields that vary between one optimizer's
    trials (fields that differ only between optimizers, like Adam's betas, are no variant)."""
    out = pd.Series("", index=frame.index, dtype=object)
    for _, trials in frame.groupby("optimizer"):
        extras = trials["config_extra"].map(json.loads)
        keys = sorted({k for e in extras for k in e})
        varying = [k for k in keys
                   if len({json.dumps(e.get(k), sort_keys=True) for e in extras}) > 1]
        out[trials.index] = extras.map(
            lambda e, varying=varying: ", ".join(f"{k}={_short(e.get(k))}" for k in varying))
    return out


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={v}" for k, v in sorted(value.items())) + "}"
    return str(value)


def selection_for(task: str, frame: pd.DataFrame) -> Selection:
    """The selection metric the records state (task.selection_metric), else the task class's
    when the task is importable, else validation accuracy (higher is better) where recorded,
    validation loss (lower) otherwise."""
    if "selection_metric" in frame and frame["selection_metric"].notna().any():
        metric = frame["selection_metric"].dropna().iloc[0]
        mode = frame["selection_mode"].dropna().iloc[0] if "selection_mode" in frame and \
            frame["selection_mode"].notna().any() else "min"
        if metric in frame and frame[metric].notna().any():
            return Selection(str(metric), str(mode))
    try:
        import tasks

        cls = tasks.get(task)
        metric, mode = cls.selection_metric, cls.selection_mode
        if metric in frame and frame[metric].notna().any():
            return Selection(metric, mode)
    except Exception:  # unknown or unimportable task: fall back to the recorded columns
        pass
    if "val_accuracy" in frame and frame["val_accuracy"].notna().any():
        return Selection("val_accuracy", "max")
    return Selection("val_loss", "min")


def slugify(text: str) -> str:
    """A file-name-safe slug plus a short hash, so distinct names never collide."""
    import hashlib
    import re

    base = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()[:40] or "x"
    return f"{base}-{hashlib.sha1(text.encode()).hexdigest()[:6]}"
