"""Run one conformance probe in a forked child under a time limit: an optimizer whose
`step()` hangs, crashes the interpreter or raises SystemExit cannot take the command down.
The parent kills a child that runs past the limit; the probe's result comes back pickled.

`call_with_limit` waits for one child; `start_probe` returns at once, so one thread can keep
several children running and wait on all their pipes (`bench/conformance/audit.py`)."""

from __future__ import annotations

import multiprocessing as mp
import os
import traceback
from collections.abc import Callable
from typing import Any

DEFAULT_TIMEOUT_S = 60.0


class ProbeFailed(Exception):
    """The probe hung past its limit, raised, or its process died; the message says which."""


def _silence() -> None:
    # An optimizer that prints (or warns) on every step must not flood the parent's output,
    # nor corrupt its --json.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)


def _child(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...], quiet: bool = False
           ) -> None:
    import torch

    torch.set_num_threads(1)  # no thread pool inherited half-made across fork
    if quiet:
        _silence()
    try:
        conn.send(("ok", fn(*args)))
    except BaseException as err:  # noqa: BLE001 - SystemExit from a step() too
        lines = str(err).strip().splitlines()
        conn.send(("raised", f"{type(err).__name__}: {lines[0] if lines else ''}".rstrip(": "),
                   traceback.format_exc()))
    finally:
        conn.close()


class RunningProbe:
    """A forked child computing fn(*args); `conn` becomes readable when it answers or dies."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], quiet: bool = False):
        ctx = mp.get_context("fork")
        self.conn, child = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_child, args=(child, fn, args, quiet), daemon=True)
        self.process.start()
        child.close()

    def result(self) -> Any:
        """The answer once `conn` is readable; ProbeFailed when the probe raised or died."""
        try:
            message = self.conn.recv()
        except EOFError:
            self.process.join(5)
            raise ProbeFailed(f"its process died (exit code {self.process.exitcode})") from None
        finally:
            self.stop()
        if message[0] == "raised":
            raise ProbeFailed(f"raised {message[1]}")
        return message[1]

    def timed_out(self, timeout_s: float) -> ProbeFailed:
        self.stop()
        return ProbeFailed(f"did not return within {timeout_s:g} s (hangs? raise "
                           "--probe-timeout-s if it is only slow)")

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()


def start_probe(fn: Callable[..., Any], args: tuple[Any, ...], quiet: bool = False
                ) -> RunningProbe:
    """fn(*args) in a forked child, returning at once; `quiet` sends its output to /dev/null."""
    return RunningProbe(fn, args, quiet)


def call_with_limit(fn: Callable[..., Any], args: tuple[Any, ...], timeout_s: float) -> Any:
    """fn(*args) in a child process; ProbeFailed when it exceeds `timeout_s`, raises or dies."""
    probe = start_probe(fn, args)
    if not probe.conn.poll(timeout_s):
        raise probe.timed_out(timeout_s)
    return probe.result()
