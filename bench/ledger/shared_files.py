"""Temporary files and folders for atomic writes that honour the umask.

`tempfile.mkstemp` creates files mode 0600 and `mkdtemp` folders 0700, whatever the umask:
renamed into place they made records and claims unreadable to the rest of a group sharing a
results directory (each user then reran the other's trials and called their records
damaged). These create as `open` and `mkdir` do, mode 0666 / 0777 less the umask."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

_TRIES = 100


def temp_file(directory: str | os.PathLike, prefix: str = ".tmp-", suffix: str = ""
              ) -> tuple[int, str]:
    """(open file descriptor, path) of a new, empty file in `directory`."""
    for _ in range(_TRIES):
        path = os.path.join(directory, f"{prefix}{secrets.token_hex(8)}{suffix}")
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {directory}")


def temp_dir(directory: str | os.PathLike, prefix: str = ".tmp-") -> Path:
    """A new, empty folder in `directory`."""
    for _ in range(_TRIES):
        path = Path(directory) / f"{prefix}{secrets.token_hex(8)}"
        try:
            path.mkdir(0o777)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {directory}")


def write_text(path: str | os.PathLike, text: str, prefix: str = ".tmp-") -> Path:
    """`text` into `path`, whole or not at all: a synced temporary file renamed into place, so a
    reader sees the old file or the new one, never part of one."""
    path = Path(path)
    fd, tmp = temp_file(path.parent, prefix=prefix, suffix=path.suffix)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
