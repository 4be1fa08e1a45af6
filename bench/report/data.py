"""Ledger records -> the frames the report works on, split into comparable groups.

A group is (task, budget, data fingerprint): results from different budgets or data are never
compared in one leaderboard. Inside a group a *configuration* is every Trial field but the
seed and the bookkeeping ones (bench/trial/config.py); `variant` names the fields besides lr and
weight_decay that vary (e.g. the schedule). One record per (configuration, seed) counts."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from bench.analysis.ranking import Selection, selection_for, variants
from bench.ledger.freshness import newest_code, one_per_sample
from bench.ledger.store import Ledger, flatten

GROUP_KEYS = ("task", "budget", "data_fingerprint")
__all__ = ["Group", "ReportData", "Selection", "expand", "load", "selection_for", "slugify"]


@dataclass
class Group:
    task: str
    budget: str
    data_fingerprint: str
    selection: Selection
    trials: pd.DataFrame  # rows of this group only
    slug: str
    stale: int = 0  # records of older code left out (bench/ledger/freshness.py)
    superseded: int = 0  # records of a (configuration, seed) counted once already
    ids: frozenset[str] = frozenset()  # every record filed here, stale and superseded included
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
    records: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)  # id -> record

    def records_of(self, group: Group) -> list[dict[str, Any]]:
        """The ledger records of a group's trials (stale ones left out, as in its frame)."""
        return [self.records[i] for i in group.trials["id"] if i in self.records]


def load(dirs: Iterable[str | os.PathLike]) -> ReportData:
    """Read every record once (the store's loaders would read the files three times)."""
    dirs = expand(dirs)
    seen: set[str] = set()
    rows, curve_rows, tensor_rows, records = [], [], [], {}
    for d in dirs:
        for record in Ledger(d).records():
            if record.get("id") in seen:  # the same trial in two directories counts once
                continue
            seen.add(record["id"])
            records[record["id"]] = record
            rows.append(_row(record))
            curve_rows.extend({"id": record["id"], **p} for p in record.get("curve") or [])
            tensor_rows.extend({"id": record["id"], "tensor": name, **m}
                               for name, m in (record.get("per_tensor") or {}).items())
    trials = pd.DataFrame(rows)
    curves = pd.DataFrame(curve_rows)
    per_tensor = pd.DataFrame(tensor_rows)
    groups = _groups(trials) if len(trials) else []
    return ReportData(trials, curves, per_tensor, groups, dirs, records)


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
    for key in ("task", "optimizer", "budget"):
        row[key] = str(row.get(key))
    return row


def _groups(trials: pd.DataFrame) -> list[Group]:
    trials = trials.copy()
    _fill_fingerprints(trials)
    trials["data_fingerprint"] = trials["data_fingerprint"].fillna("unknown").astype(str)
    groups = []
    for key, frame in trials.groupby(list(GROUP_KEYS), sort=True, dropna=False):
        ids = frozenset(frame["id"].astype(str))
        frame, stale = newest_code(frame)
        frame, superseded = one_per_sample(frame)
        frame = frame.copy()
        frame["variant"] = variants(frame)
        task, budget, fingerprint = (str(k) for k in key)
        groups.append(Group(task, budget, fingerprint, selection_for(task, frame), frame,
                            slug=slugify(f"{task}-{budget}-{fingerprint}"), stale=stale,
                            superseded=superseded, ids=ids))
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


def slugify(text: str) -> str:
    """A file-name-safe slug plus a short hash, so distinct names never collide."""
    import hashlib
    import re

    base = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()[:40] or "x"
    return f"{base}-{hashlib.sha1(text.encode()).hexdigest()[:6]}"
