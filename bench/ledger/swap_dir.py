"""Replace a folder with a finished one in one step: `renameat2(RENAME_EXCHANGE)` where the
system has it (Linux), so that a reader, or a kill at any moment, sees the old folder or the
new one, never none. Elsewhere two renames, the old folder set aside under a fresh name."""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import tempfile
from pathlib import Path

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step; False where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False  # an old kernel, or a file system without exchange
    raise OSError(code, os.strerror(code), str(b))


def replace_dir(new: Path, target: Path) -> None:
    """Make `new` (a finished folder on the same file system) the `target` folder; the old
    `target`, if any, is deleted."""
    if not target.exists():
        os.replace(new, target)
        return
    if exchange(new, target):
        shutil.rmtree(new)  # it holds the old folder now
        return
    old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-old-"))
    os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)
