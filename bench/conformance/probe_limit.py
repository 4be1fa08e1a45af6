"""Run one conformance probe in a forked child under a time limit: an optimizer whose
`step()` hangs, crashes the interpreter or raises SystemExit cannot take the command down.
The parent kills a child that runs past the limit; the probe's result comes back pickled."""

from __future__ import annotations

import multiprocessing as mp
import traceback
from collections.abc import Callable
from typing import Any

DEFAULT_TIMEOUT_S = 60.0


class ProbeFailed(Exception):
    """The probe hung past its limit, raised, or its process died; the message says which."""


def _child(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    import torch

    torch.set_num_threads(1)  # no thread pool inherited half-made across fork
    try:
        conn.send(("ok", fn(*args)))
    except BaseException as err:  # noqa: BLE001 - SystemExit from a step() too
        lines = str(err).strip().splitlines()
        conn.send(("raised", f"{type(err).__name__}: {lines[0] if lines else ''}".rstrip(": "),
                   traceback.format_exc()))
    finally:
        conn.close()


def call_with_limit(fn: Callable[..., Any], args: tuple[Any, ...], timeout_s: float) -> Any:
    """fn(*args) in a child process; ProbeFailed when it exceeds `timeout_s`, raises or dies."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(child, fn, args), daemon=True)
    process.start()
    child.close()
    try:
        if not parent.poll(timeout_s):
            raise ProbeFailed(f"did not return within {timeout_s:g} s (hangs? raise "
                              "--probe-timeout-s if it is only slow)")
        try:
            message = parent.recv()
        except EOFError:
            process.join(5)
            raise ProbeFailed(f"its process died (exit code {process.exitcode})") from None
    finally:
        if process.is_alive():
            process.kill()
        process.join(5)
        parent.close()
    if message[0] == "raised":
        raise ProbeFailed(f"raised {message[1]}")
    return message[1]
