"""Checks shared by the verbs: each fails before any work with one line (exit 2)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench.errors import UsageError
from bench.trial.config import Trial

MIN_FREE_BYTES = 64 * 2**20  # a few records and checkpoints of the small tasks


def check_out(value: str | None) -> Path:
    """The --out argument as a path; an empty one is refused (it would mean the cwd)."""
    if value is not None and not str(value).strip():
        raise UsageError("--out is empty; pass --out DIR (e.g. --out results/runs)")
    return Path(value)


def ensure_writable(out: Path) -> None:
    """Prove files can be written in `out` and its `trials/` folder, with room to spare,
    creating nothing: a missing folder is probed at its nearest existing parent."""
    where = out
    for folder in (out / "trials", out):
        if folder.exists():
            where = folder
            break
    else:
        where = next((p for p in out.parents if p.exists()), Path("."))
    problem = None
    if not where.is_dir():
        problem = f"{where} is not a directory"
    else:
        try:
            with tempfile.NamedTemporaryFile(dir=where):
                pass
            if (out / "trials").is_dir() and where != out / "trials":
                with tempfile.NamedTemporaryFile(dir=out / "trials"):
                    pass
        except OSError as err:
            problem = f"{err.strerror} in {err.filename or where}"
    if problem is None and shutil.disk_usage(where).free < MIN_FREE_BYTES:
        problem = f"under {MIN_FREE_BYTES // 2**20} MiB free on its disk"
    if problem:
        raise UsageError(f"cannot write to output directory {out} ({problem}); "
                         "pass --out DIR with a writable directory")


def importable_cwd() -> None:
    """As `python -m` does: a `module:attr` in the working directory is importable (worker
    processes inherit sys.path)."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def check_task(task: str) -> None:
    import tasks

    try:
        tasks.get(task)
    except KeyError as err:
        raise UsageError(err.args[0]) from None


def check_optimizers(names: list[str]) -> None:
    """Each name is registered or an importable `module:attr` (imported in a child process
    under a time limit first: bench/trial/untrusted_optimizer.py)."""
    from bench.trial.untrusted_optimizer import spec

    for name in names:
        try:
            spec(name)
        except KeyError as err:
            raise UsageError(err.args[0]) from None
        except ValueError as err:  # e.g. a bad decay_style attribute on a module:attr
            raise UsageError(f"optimizer {name!r}: {err}") from None


def check_budget(task: str, budget: str) -> None:
    import tasks

    budgets = tasks.get(task).budgets
    if budget not in budgets:
        raise UsageError(f"task {task!r} has no budget {budget!r}; use one of: "
                         f"{', '.join(budgets)}")


def resolve_budget(arg: str | None) -> str:
    """The --budget given, else cpu (full when a GPU is present)."""
    if arg:
        return arg
    from bench.engine.runner import default_budget

    return default_budget()


def check_data(trial: Trial, data_dir: str | None) -> None:
    """The task builds with these options and finds its data."""
    import tasks
    from tasks.data import DataUnavailable

    try:
        task = tasks.create(trial.task, trial.budget, dict(trial.task_options), data_dir=data_dir)
        task.data_fingerprint  # noqa: B018 - resolves the data source
    except DataUnavailable as err:
        raise UsageError(str(err)) from None
    except (ValueError, TypeError) as err:
        raise UsageError(f"task {trial.task!r}: {err}") from None


def add_log_with(parser) -> None:
    parser.add_argument("--log-with", action="append", default=[], metavar="TRACKER",
                        help="also log every evaluation to an experiment tracker Accelerate "
                             "supports (tensorboard, wandb, mlflow, ...; repeat or "
                             "comma-separate); runs land under OUT/trackers/")


def parse_log_with(values: list[str] | str | None) -> tuple[str, ...]:
    """Tracker names from `--log-with` (or a suite's `log_with`), checked against
    Accelerate's list."""
    from bench.trial import tracking
    items = [values] if isinstance(values, str) else list(values or [])
    try:
        return tracking.check_names(n for item in items for n in str(item).split(","))
    except ValueError as err:
        raise UsageError(f"--log-with: {err}") from None
