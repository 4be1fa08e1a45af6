"""What a sweep planned and submitted, beside the ledger, so that `wdbench status` and the
next sweep know the whole picture from the results directory alone:

    plans/<hash>.json        the trial ids of a sweep (one file per distinct grid)
    submissions/<job>.json   a SLURM job array: task job id -> trial ids, its log folder
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import input_files
from bench.ledger import damaged
from bench.ledger.shared_files import write_text


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(data, indent=1))


MAX_FILE_BYTES = 1 << 28  # a plan of a million trial ids is ~16 MB


def _ids(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, str) for i in value)


def _is_plan(data: Any) -> bool:
    return (isinstance(data, dict) and _ids(data.get("trials"))
            and isinstance(data.get("suite"), (str, type(None))))


def _is_submission(data: Any) -> bool:
    tasks = data.get("tasks") if isinstance(data, dict) else None
    return (isinstance(tasks, dict) and all(map(_ids, tasks.values()))
            and isinstance(data.get("job_id"), str) and isinstance(data.get("logs"), str))


def _read_all(folder: Path, valid: Callable[[Any], bool]) -> list[dict[str, Any]]:
    """Every file of `folder` that `valid` accepts; a damaged one is set aside with a
    warning (bench/ledger/damaged.py) and the rest is read on."""
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("[!.]*.json")):
        try:
            data = json.loads(input_files.read_text(path, MAX_FILE_BYTES))
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as err:  # not JSON, not a regular file, too large
            damaged.set_aside(path, f"{type(err).__name__}: {err}")
            continue
        if valid(data):
            out.append(data)
        else:
            damaged.set_aside(path, f"not a {folder.name[:-1]} file of wdbench")
    return out


def write_plan(out: Path, trial_ids: list[str], suite: str | None) -> None:
    ids = sorted(set(trial_ids))
    name = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:12]
    _write_json(out / "plans" / f"{name}.json", {"suite": suite, "trials": ids})


def planned_ids(out: Path) -> set[str]:
    return {i for plan in _read_all(out / "plans", _is_plan) for i in plan["trials"]}


def write_submission(out: Path, array_id: str, tasks: dict[str, list[str]], logs: str) -> None:
    _write_json(out / "submissions" / f"{array_id}.json",
                {"job_id": array_id, "tasks": tasks, "logs": logs, "submitted": time.time()})


def submissions(out: Path) -> list[dict[str, Any]]:
    return _read_all(out / "submissions", _is_submission)


def queued_trials(out: Path, live_jobs: set[str] | None) -> dict[str, str]:
    """Trial id -> array task id, for array tasks SLURM still has (pending or running)."""
    if not live_jobs:
        return {}
    queued: dict[str, str] = {}
    for sub in submissions(out):
        for task_id, ids in sub.get("tasks", {}).items():
            if task_id in live_jobs:
                queued.update({i: task_id for i in ids})
    return queued
