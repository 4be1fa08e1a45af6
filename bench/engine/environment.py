"""Provenance of a result: library versions, device, code revision, date."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
from pathlib import Path
from typing import Any

from bench import __version__


def git_revision() -> str | None:
    """The repository's HEAD (with '+dirty' when it has uncommitted changes), or None."""
    root = Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root,
                             capture_output=True, text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("+dirty" if dirty else "")


def describe(device: Any, num_processes: int) -> dict[str, Any]:
    import torch

    name = str(device)
    if getattr(device, "type", None) == "cuda":
        name = torch.cuda.get_device_name(device)
    return {
        "wdbench": __version__,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": name,
        "num_processes": num_processes,
        "threads": torch.get_num_threads(),
        "git_rev": git_revision(),
        "python": platform.python_version(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
