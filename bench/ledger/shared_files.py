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


def write_text(path: str | os.PathLike, text: str, prefix: str = ".tmp-",
               sync: bool = True) -> Path:
    """`text` into `path` (UTF-8, as `bench.input_files` reads it), whole or not at all: a
    temporary file renamed into place, so a reader sees the old file or the new one, never part
    of one. `sync=False` skips the fsync, for a file written often that need not outlive a
    crash (progress: the fsync would stall the training loop it reports on)."""
    path = Path(path)
    tmp = _filled_temp(path, text, prefix, sync)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def create_text(path: str | os.PathLike, text: str, prefix: str = ".tmp-") -> bool:
    """`text` into `path` as `write_text` does, but only where no file has that name: the
    temporary file is hard-linked to `path`, which fails if it exists (exclusive on local
    filesystems and NFS). False where `path` existed."""
    tmp = _filled_temp(Path(path), text, prefix, sync=True)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        Path(tmp).unlink(missing_ok=True)
    return True


def _filled_temp(path: Path, text: str, prefix: str, sync: bool) -> str:
    """A new temporary file beside `path` holding `text`; removed again where writing fails."""
    fd, tmp = temp_file(path.parent, prefix=prefix, suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            if sync:
                f.flush()
                os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp
