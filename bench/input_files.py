"""Reading files that may be hostile or damaged (suite files, records, claims, plans):
regular files only, opened without blocking and read with a bound, so that a FIFO never
hangs a sweep and `/dev/zero` or a huge file is refused before it is read."""

from __future__ import annotations

import os
import stat


class Unreadable(ValueError):
    """Not a regular file, or larger than the bound (the caller names the file)."""


def read_bytes(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The whole of a regular file of at most `max_bytes` (OSError where it cannot be
    opened, Unreadable where it is no regular file or too large)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens at once, unread
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable(f"not a regular file: {_kind(info.st_mode)}")
        if info.st_size > max_bytes:
            raise Unreadable(f"{info.st_size} bytes, more than the {max_bytes} this file "
                             "may have")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(max_bytes + 1)  # the size may have grown since fstat
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise Unreadable(f"more than the {max_bytes} bytes this file may have")
    return data


def read_text(path: str | os.PathLike, max_bytes: int) -> str:
    """`read_bytes` decoded as UTF-8 (UnicodeDecodeError where it is not)."""
    return read_bytes(path, max_bytes).decode("utf-8")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a special file"
