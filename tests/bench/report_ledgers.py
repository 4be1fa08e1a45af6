"""Hand-made ledgers for report tests: synthetic records (tests.bench.report.synthetic) with chosen
values written over them, so the expected numbers follow from the test itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.ledger.store import Ledger
from tests.bench.report.synthetic import synthetic_records


def write(root: Path, records: list[dict[str, Any]]) -> Path:
    ledger = Ledger(root)
    for r in records:
        ledger.write(r)
    return root


def small(**kwargs: Any) -> list[dict[str, Any]]:
    """A quick grid: one task, adamw and adam_l2, 2 x 2 (lr, λ), 2 seeds, 4 evaluations."""
    opts = dict(tasks=("quadratic",), optimizers=("adamw", "adam_l2"), grid=2, evals=4,
                failed=0)
    opts.update(kwargs)
    return synthetic_records(**opts)


def set_val(records: list[dict[str, Any]], value_of) -> None:
    """Overwrite final val_loss with value_of(record) (None: mark the trial diverged)."""
    for r in records:
        value = value_of(r)
        if value is None:
            r["status"] = "diverged"
            r["diverged_at"] = 10
            r["final"] = {"val_loss": None}
        else:
            r["status"] = "done"
            r["final"]["val_loss"] = value
