"""Setting aside a damaged file of a results directory (a claim, a plan, a submission):
moved to `damaged/` beside it, kept for inspection and no longer read, with one warning; the
command goes on as if the file were not there. (Records have their own, `Ledger.set_aside`,
so that their trial runs again.)"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

FOLDER = "damaged"


def set_aside(path: Path, why: str) -> None:
    folder = path.parent / FOLDER
    if folder.is_symlink():  # never move anything outside the results directory
        folder.unlink()
    target = folder / f"{path.name}.{time.time_ns()}"
    try:
        folder.mkdir(exist_ok=True)
        os.replace(path, target)
    except FileNotFoundError:
        return  # gone meanwhile (released, or another process set it aside first)
    except OSError as err:  # a read-only directory: warn, and skip it this time
        print(f"wdbench: warning: damaged file {path} ({why}); skipped (could not move it: "
              f"{err.strerror})", file=sys.stderr)
        return
    print(f"wdbench: warning: damaged file {path} ({why}); moved to {target}",
          file=sys.stderr)
