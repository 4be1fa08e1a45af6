"""A command ends although a user's code left threads running: Python waits at exit for every
non-daemon thread, so a submitted optimizer that starts one (and never stops it) would hang the
sweep after its last trial. At the end of a command (bench/cli), such threads get a short grace
to finish (GRACE_S, or $WDBENCH_THREAD_GRACE_S seconds); those still running are named in one
warning and the process exits without them (`os._exit`, after flushing the output), with the
command's own exit code.

A pool worker process (`--workers N`) that ran such a trial does the same at its own exit
(`never_wait_at_exit`): otherwise the sweep would wait for that worker for ever."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter

GRACE_S = 5.0
GRACE_ENV = "WDBENCH_THREAD_GRACE_S"  # seconds instead of GRACE_S (tests set 0)


def lingering() -> list[threading.Thread]:
    """The running non-daemon threads other than this one: what Python would wait for."""
    return [t for t in threading.enumerate()
            if t is not threading.current_thread() and not t.daemon and t.is_alive()]


def grace_s() -> float:
    """$WDBENCH_THREAD_GRACE_S, else GRACE_S: how long lingering threads get to finish. A bad
    value is named in one warning and GRACE_S used (the command is ending: no error exit)."""
    raw = os.environ.get(GRACE_ENV)
    if raw is None:
        return GRACE_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        print(f"wdbench: warning: {GRACE_ENV}={raw!r} is not a number of seconds >= 0; "
              f"waiting {GRACE_S:g} s (set e.g. {GRACE_ENV}=1)", file=sys.stderr)
        return GRACE_S
    return value


def exit_despite_lingering(code: int, grace: float | None = None) -> None:
    """Return when no thread would keep the process from exiting (after up to `grace` seconds,
    default `grace_s()`, of waiting for them); otherwise warn, flush and end the process now
    with `code`."""
    threads = lingering()
    if not threads:
        return
    deadline = time.monotonic() + (grace_s() if grace is None else grace)
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
