"""`wdbench check-optimizer` with every step of the optimizer's code under the probe time limit:
its import and construction first, in a forked child (bench/isolation/time_limit.py), then each
probe (`checks.run_checks`). An import or constructor that hangs, kills its process or raises
SystemExit fails the `construction` check, and nothing else is probed; one that raises an error
is refused with that error (exit 2), as `checks.resolve` words it."""

from __future__ import annotations

from typing import Any

from bench.conformance.checks import (
    Check,
    Report,
    import_subject,
    refuse_reserved,
    resolve,
    run_checks,
)
from bench.errors import UsageError
from bench.isolation.process_state import preserved_process_state


def check(text: str, settings: dict[str, Any], timeout_s: float) -> Report:
    """The report of OPTIMIZER `text` with constructor `settings`; UsageError when it cannot be
    imported or constructed."""
    from bench.isolation.time_limit import ProbeFailed, call_with_limit, warm_torch

    refuse_reserved(settings)
    warm_torch()
    try:
        refusal = call_with_limit(_refusal, (text, settings), timeout_s)
    except ProbeFailed as err:
        return unconstructed(text, f"importing and constructing it failed: {err}")
    if refusal is not None:
        raise UsageError(refusal)
    with preserved_process_state():  # imported again, here: in the child the import returned
        subject = import_subject(text, settings)
    return run_checks(subject, timeout_s)


def _refusal(text: str, settings: dict[str, Any]) -> str | None:
    try:
        resolve(text, settings)
    except UsageError as err:
        return str(err)
    return None


def unconstructed(text: str, detail: str) -> Report:
    """The report of an optimizer that could not be imported and constructed at all."""
    return Report(spec=text, source="not constructed", declared_decay_style="unknown",
                  decay_semantics="unknown", consistent_with=(), explanation=detail,
                  checks=[Check("construction", False, detail)], probes={})
