"""Handlers of the `wdbench` subcommands run, sweep and list."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.config import Trial, parse_settings
from bench.errors import UsageError


def _check_names(task: str, optimizer_names: list[str]) -> None:
    import optimizers
    import tasks

    try:
        tasks.get(task)
    except KeyError as err:
        raise UsageError(err.args[0]) from None
    valid = optimizers.available()
    for name in optimizer_names:
        if name not in valid:
            raise UsageError(f"unknown optimizer {name!r}; available: {', '.join(valid)}")


def _check_budget(task: str, budget: str) -> None:
    import tasks

    budgets = tasks.get(task).budgets
    if budget not in budgets:
        raise UsageError(f"task {task!r} has no budget {budget!r}; use one of: "
                         f"{', '.join(budgets)}")


def _check_data(trial: Trial, data_dir: str | None) -> None:
    """Fail before any work when the task's data cannot be found (one line, exit 2)."""
    import tasks
    from tasks.data import DataUnavailable

    try:
        task = tasks.create(trial.task, trial.budget, dict(trial.task_options), data_dir=data_dir)
        task.data_fingerprint  # noqa: B018 - resolves the data source
    except DataUnavailable as err:
        raise UsageError(str(err)) from None
    except (ValueError, TypeError) as err:
        raise UsageError(f"task {trial.task!r}: {err}") from None


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out):
            pass
    except OSError as err:
        raise UsageError(f"cannot write to output directory {out} ({err.strerror}); "
                         "pass --out DIR with a writable directory") from None


def _budget(arg: str | None) -> str:
    if arg:
        return arg
    from bench.runner import default_budget

    return default_budget()


def run(args: argparse.Namespace) -> int:
    import optimizers
    from bench.runner import run_trial

    _check_names(args.task, [args.optimizer])
    budget = _budget(args.budget)
    _check_budget(args.task, budget)
    defaults = optimizers.spec(args.optimizer).defaults
    settings: dict[str, Any] = {"seed": args.seed, "budget": budget}
    if args.mixed_precision:
        settings["mixed_precision"] = args.mixed_precision
    settings.update(parse_settings(args.set))
    trial = Trial(task=args.task, optimizer=args.optimizer,
                  lr=float(settings.pop("lr", defaults.get("lr", 1e-3))),
                  weight_decay=float(settings.pop("weight_decay",
                                                  defaults.get("weight_decay", 0.0))))
    trial = trial.with_settings(settings)
    _check_data(trial, args.data_dir)
    out = Path(args.out)
    _check_writable(out)

    from accelerate import Accelerator

    accelerator = Accelerator(mixed_precision=trial.mixed_precision)
    record = run_trial(trial, out, data_dir=args.data_dir,
                       show_progress=not (args.quiet or args.json))
    if accelerator.is_main_process:
        if args.json:
            print(json.dumps(record, default=str))
        else:
            _print_record(record)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return 1 if record["status"] == "failed" else 0


def _print_record(record: dict[str, Any]) -> None:
    final = record.get("final", {})
    keys = [k for k in ("train_loss", "val_loss", "val_perplexity", "val_accuracy",
                        "test_loss", "test_perplexity", "test_accuracy", "linf_ratio",
                        "fw_gap_rel", "boundary_frac", "l2_stationarity", "dist_box", "dist_l2")
            if isinstance(final.get(k), float)]
    print(f"trial {record['id']}: {record['status']}"
          + (f" at step {record['diverged_at']}" if record.get("diverged_at") else ""))
    for k in keys:
        print(f"  {k:16s} {final[k]:.6g}")
    if record.get("error"):
        print(record["error"], file=sys.stderr)


def sweep(args: argparse.Namespace) -> int:
    from bench import suite as suites
    from bench.sweep import SweepOptions, run_sweep

    path = suites.resolve(args.suite, args.task)
    suite = suites.load(path)
    if args.task and args.suite and args.task != suite.task:
        raise UsageError(f"suite {path} is for task {suite.task!r}, not {args.task!r}")
    if args.optimizers:
        wanted = [o.strip() for o in args.optimizers.split(",") if o.strip()]
        unknown = [o for o in wanted if o not in suite.optimizers]
        if unknown:
            raise UsageError(f"optimizer(s) {', '.join(unknown)} not in suite {suite.name}; "
                             f"it has: {', '.join(suite.optimizers)}")
        suite = suites.Suite(**{**suite.__dict__, "optimizers": {
            k: v for k, v in suite.optimizers.items() if k in wanted}})
    _check_names(suite.task, list(suite.optimizers))
    budget = args.budget or suite.budget or _budget(None)
    _check_budget(suite.task, budget)
    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1 (got {args.workers})")
    overrides = parse_settings(args.set)
    if args.mixed_precision:
        overrides["mixed_precision"] = args.mixed_precision
    trials = suite.trials(budget, overrides)
    _check_data(trials[0], args.data_dir)
    out = Path(args.out or Path("results") / suite.name)
    executor = _executor(args, suite, path, budget, out, trials)
    _check_writable(out)
    counts = run_sweep(trials, SweepOptions(out=out, workers=args.workers,
                                            data_dir=args.data_dir, quiet=args.quiet,
                                            suite=suite.name, executor=executor,
                                            detach=args.detach))
    if args.detach:
        return 0
    if not args.quiet:
        _print_summary(out)
        print(f"ran {counts['done']} done, {counts['diverged']} diverged, "
              f"{counts['failed']} failed; {counts['skipped']} already finished; "
              f"{counts['elsewhere']} run by another sweep; {counts['pending']} pending; "
              f"ledger: {out}", file=sys.stderr)
    return 1 if counts["failed"] or counts["pending"] else 0


def _executor(args: argparse.Namespace, suite: Any, path: Path, budget: str, out: Path,
              trials: list[Trial]) -> Any:
    """Executor settings (suite < --executor-config < flags); SLURM checked before writing."""
    from bench.executors import ExecutorOptions

    executor = ExecutorOptions.from_args(args, suite.executor, where=f"{path}: executor")
    if args.detach and executor.kind != "slurm":
        raise UsageError("--detach needs --executor slurm (a local sweep runs in this process)")
    if executor.kind == "slurm":
        from bench.executors import slurm

        executor = executor.with_budget_defaults(budget)
        slurm.check_cluster(executor, slurm.measured_trial_s(out, trials[0]))
    return executor


def _print_summary(out: Path) -> None:
    """Best validation result per optimizer (mean over seeds at its best lr, weight_decay)."""
    from bench.store import load_trials

    frame = load_trials(out)
    if frame.empty:
        return
    done = frame[frame.status == "done"]
    metric = "val_accuracy" if "val_accuracy" in done else "val_loss"
    cols = [c for c in ("linf_ratio", "fw_gap_rel", "boundary_frac", "l2_stationarity",
                        "dist_box", "dist_l2", "val_perplexity", "test_accuracy")
            if c in done]
    if done.empty or metric not in done:
        return
    grouped = done.groupby(["optimizer", "lr", "weight_decay"])[[metric, *cols]].mean()
    ascending = metric != "val_accuracy"
    best = grouped.sort_values(metric, ascending=ascending).groupby(level="optimizer").head(1)
    print(best.sort_values(metric, ascending=ascending).to_string(float_format="%.4g"))


def list_all(args: argparse.Namespace) -> int:
    import optimizers
    import tasks
    from bench import suite as suites

    print("tasks:")
    for name in tasks.available():
        print(f"  {name:14s} budgets: {', '.join(tasks.get(name).budgets)}")
    print("optimizers:")
    for name in optimizers.available():
        spec = optimizers.spec(name)
        print(f"  {name:14s} {spec.direction:6s} {spec.decay_style.value:11s} "
              f"{spec.description}")
    print(f"suites: {', '.join(suites.names())}")
    return 0
