"""Shared data plumbing for tasks: where local data lives, where caches go, whether the hub is
reachable, and fingerprints of the data actually used."""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterable
from pathlib import Path


class DataUnavailable(RuntimeError):
    """No local data and no hub: the message says how to get the data or pass --data-dir."""


def env_var(task: str) -> str:
    """Per-task data-directory variable, e.g. WDBENCH_DATA_WIKITEXT."""
    return "WDBENCH_DATA_" + task.upper().replace("-", "_")


def resolve_data_dir(task: str, data_dir: str | os.PathLike | None) -> Path | None:
    """--data-dir wins, then $WDBENCH_DATA_<TASK>; None means 'use the hub'."""
    chosen = data_dir or os.environ.get(env_var(task))
    if not chosen:
        return None
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise DataUnavailable(f"data directory {path} does not exist; pass --data-dir DIR "
                              f"or set {env_var(task)} to a directory holding the {task} files")
    return path


def default_cache_dir() -> Path:
    return Path(os.environ.get("WDBENCH_CACHE", Path.home() / ".cache" / "wdbench"))


def hub_reachable(timeout: float = 2.0) -> bool:
    """False when offline mode is set or huggingface.co cannot be reached within `timeout`:
    callers then fail fast instead of waiting on the hub client's retries."""
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        if os.environ.get(var, "").lower() in ("1", "true", "yes", "on"):
            return False
    host = os.environ.get("HF_ENDPOINT", "https://huggingface.co").split("://")[-1].split("/")[0]
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def fingerprint_files(paths: Iterable[str | os.PathLike], extra: str = "") -> str:
    """Short content hash of files (size + full bytes), stable across machines."""
    h = hashlib.sha256(extra.encode())
    for path in sorted(Path(p) for p in paths):
        h.update(path.name.encode())
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]
