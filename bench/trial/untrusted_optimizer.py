"""A submitted optimizer, as validation meets it: its import and its construction run first
in a forked child under a time limit (bench/isolation/time_limit.py). An import or constructor
that hangs, kills its process or raises SystemExit becomes one line (exit 2) instead of a hung
or vanished command, and what a constructor changes in its process (default dtype, seeds,
thread count, threads it starts) stays in that child, away from the trials that run later.

The optimizers of this repository are trusted and built in this process: a grid of thousands
of built-in trials validates without a fork per trial."""

from __future__ import annotations

import sys
from typing import Any

from bench.errors import UsageError
from bench.isolation.process_state import preserved_process_state

LIMIT_S = 60.0
HINT = ("does it hang? an optimizer's import and constructor must return promptly; "
        "wdbench check-optimizer NAME probes it")


def spec(name: str) -> Any:
    """`optimizers.spec(name)`. A module:attr whose module is not imported yet is imported
    first in a child (an import that does not end, or ends the process, is a UsageError), then
    here, with the process state it changes put back."""
    import optimizers

    module = name.partition(":")[0]
    if ":" not in name or not module or module in sys.modules:
        return optimizers.spec(name)  # nothing new is imported (once per trial of a grid)
    _in_child(name, "importing it", _look_up, name)
    with preserved_process_state():
        return optimizers.spec(name)


def _look_up(name: str) -> None:
    import optimizers

    try:
        optimizers.spec(name)
    except Exception:  # noqa: BLE001 - the parent looks it up again and reports this
        pass


def construction_error(spec: Any, kwargs: dict[str, Any]) -> str | None:
    """The first line of what `spec.factory([one-element parameter], **kwargs)` raises (None
    when it builds): the optimizer's own range checks. Ours run here, a submission's in a
    child."""
    if is_ours(spec):
        return _construct(spec.factory, kwargs)
    return _in_child(spec.name, "constructing it on a one-element parameter", _construct,
                     spec.factory, kwargs)


def is_ours(spec: Any) -> bool:
    """A built-in optimizer of this repository (not a submission in optimizers/contrib/, an
    entry point, a module:attr or one registered by other code)."""
    factory = getattr(spec.factory, "func", spec.factory)  # see through functools.partial
    module = getattr(factory, "__module__", None) or ""
    return (spec.source == "builtin" and module.startswith("optimizers.")
            and not module.startswith("optimizers.contrib"))


def _construct(factory: Any, kwargs: dict[str, Any]) -> str | None:
    import torch

    try:
        factory([torch.zeros(1, requires_grad=True)], **kwargs)
    except Exception as err:  # noqa: BLE001 - any refusal; validation decides whose fault
        return str(err).splitlines()[0] if str(err) else type(err).__name__
    return None


def _in_child(name: str, action: str, fn: Any, *args: Any) -> Any:
    from bench.isolation.time_limit import ProbeFailed, call_with_limit, warm_torch

    warm_torch()
    try:
        return call_with_limit(fn, args, LIMIT_S, HINT, quiet=True)
    except ProbeFailed as err:
        raise UsageError(f"optimizer {name!r}: {action} failed: {err}") from None
