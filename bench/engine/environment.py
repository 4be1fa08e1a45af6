"""The environment a trial runs in: its intra-op threads, pinned while it runs (`pinned_threads`),
and the provenance its record is stamped with (`stamp`: library versions, device, code revision,
date). A lone trial and a stacked group's members get the same."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import __version__

TRIAL_THREADS = 1  # intra-op threads of every trial, whatever the sweep's worker count


@contextmanager
def pinned_threads() -> Iterator[None]:
    """Torch's intra-op threads at TRIAL_THREADS while a trial (or group) runs: reductions,
    hence results, must not depend on how many trials a sweep runs side by side."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(TRIAL_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def stamp(device: Any, num_processes: int) -> dict[str, Any]:
    """A record's `env`: `describe`, with the threads the trial ran on."""
    return {**describe(device, num_processes), "threads": TRIAL_THREADS}


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
