"""A command ends although a user's code left threads running: Python waits at exit for every
non-daemon thread, so a submitted optimizer that starts one (and never stops it) would hang the
sweep after its last trial. At the end of a command (bench/cli), such threads get a short grace
to finish; those still running are named in one warning and the process exits without them
(`os._exit`, after flushing the output), with the command's own exit code.

A pool worker process (`--workers N`) that ran such a trial does the same at its own exit
(`never_wait_at_exit`): otherwise the sweep would wait for that worker for ever."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter

GRACE_S = 5.0


def lingering() -> list[threading.Thread]:
    """The running non-daemon threads other than this one: what Python would wait for."""
    return [t for t in threading.enumerate()
            if t is not threading.current_thread() and not t.daemon and t.is_alive()]


def exit_despite_lingering(code: int, grace_s: float = GRACE_S) -> None:
    """Return when no thread would keep the process from exiting (after up to `grace_s` of
    waiting for them); otherwise warn, flush and end the process now with `code`."""
    threads = lingering()
    if not threads:
        return
    deadline = time.monotonic() + grace_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    threads = [t for t in threads if t.is_alive()]
    if not threads:
        return
    names = ", ".join(name if n == 1 else f"{name} x{n}"
                      for name, n in Counter(t.name for t in threads).items())
    print(f"wdbench: warning: {len(threads)} thread(s) still running at exit ({names}), "
          "started by an optimizer or task; exiting without waiting for them",
          file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(code)


def started_since(before: set[threading.Thread]) -> list[threading.Thread]:
    """The lingering threads that were not running at the time of `before`."""
    return [t for t in lingering() if t not in before]


def never_wait_at_exit() -> None:
    """At this (worker) process's exit, `exit_despite_lingering(0)`: Python runs these hooks
    before it waits for the threads (the standard library's thread pools use the same hook)."""
    threading._register_atexit(exit_despite_lingering, 0)
