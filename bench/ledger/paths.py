"""Paths inside a results directory: wdbench writes and deletes only inside `--out`.

A shared results directory may be writable by others. A symbolic link planted where wdbench
keeps its own folders would make it write, or delete, wherever the link points. So the
folders it keeps at the top of `--out` must not be links (checked before any work, one line,
exit 2), and the per-trial folders it makes and removes itself as it goes
(`checkpoints/<id>/...`) are never followed: a link found there is removed (the link only,
nothing it points to) with a warning, just before anything is read, written or deleted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bench.errors import UsageError

# Folders wdbench writes directly under --out (ledger, claims, executors, trackers, report).
OWN_FOLDERS = ("trials", "trials/damaged", "checkpoints", "claims", "plans", "submissions",
               "slurm", "trackers", "report", "progress")


def check_own_folders(out: Path) -> None:
    """UsageError where one of wdbench's folders under `out` is a symbolic link."""
    for name in OWN_FOLDERS:
        check_not_link(out / name, "--out")


def check_not_link(path: Path, option: str) -> None:
    if path.is_symlink():
        raise UsageError(f"{path} is a symbolic link (to {os.readlink(path)}); wdbench "
                         f"writes only inside the output directory: remove the link or "
                         f"pass another {option}")


def unlink_planted(root: Path, path: Path) -> bool:
    """Remove every symbolic link at `path` or between it and `root` (the links only);
    True where one was removed. `path` must lie under `root`."""
    removed = False
    current = root
    for part in path.relative_to(root).parts:
        current = current / part
        if current.is_symlink():
            target = os.readlink(current)
            current.unlink()
            print(f"wdbench: warning: {current} was a symbolic link (to {target}); removed, "
                  f"wdbench writes only inside {root}", file=sys.stderr)
            removed = True
    return removed
