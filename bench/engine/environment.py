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

REPOSITORY = Path(__file__).resolve().parents[2]  # git_revision's default

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


def git_revision(root: Path = REPOSITORY) -> str | None:
    """The HEAD of the repository at `root` (wdbench's own by default), with '+dirty' when a
    tracked file has uncommitted changes; None outside a repository or before its first
    commit."""
    try:
        # One git process for both (a record is stamped per trial, per stacked member).
        status = subprocess.run(["git", "status", "--porcelain=v2", "--branch",
                                 "--untracked-files=no"], cwd=root, capture_output=True,
                                text=True, timeout=5, check=True).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return None
    oid = next((line.split()[2] for line in status if line.startswith("# branch.oid ")), "")
    if not oid or oid == "(initial)":
        return None
    dirty = any(not line.startswith("#") for line in status)
    return oid[:12] + ("+dirty" if dirty else "")


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
