"""`wdbench sweep`: a suite (optimizers x lr x weight_decay x seeds) into one ledger; with
`--with NAME`, the suite's baselines plus submitted optimizers, then the report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.cli import common
from bench.cli.run import PRECISIONS
from bench.errors import UsageError
from bench.ledger import paths
from bench.trial import suite as suites
from bench.trial.config import parse_settings

HELD_ELSEWHERE = 3  # exit status: trials another sweep holds were skipped; rerun later
EXIT_STATUS = f"""exit status:
  0    every trial of the suite has a result
  1    a trial failed, or is left pending (a cancelled SLURM task)
  2    bad input (one line naming the key, the value and the fix)
  {HELD_ELSEWHERE}    trials another sweep holds (running or queued elsewhere) were skipped:
       run the same command again later to finish them
  130  interrupted (finished trials are kept: run the same command to resume)
With --detach: 0 once the job array is submitted."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="run a suite: optimizers x lr x weight_decay x seeds",
                       epilog=EXIT_STATUS,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("suite", nargs="?", help="suite YAML file or name under bench/suites/")
    p.add_argument("--task", default=None, help="use the task's default suite")
    p.add_argument("--optimizers", default=None,
                   help="comma-separated subset of the suite's optimizers")
    p.add_argument("--with", dest="submissions", action="append", default=[],
                   metavar="OPTIMIZER",
                   help="also run this optimizer (registered name or module:attr) on its "
                        "declared lr x weight_decay grid, same seeds and budget, then write "
                        "the report; repeatable")
    p.add_argument("--budget", default=None, help="smoke | cpu | full (default: the suite's)")
    p.add_argument("--out", default=None, help="results directory (default results/<suite>)")
    from bench.cli.report import add_no_figures

    add_no_figures(p, "the report of --with")
    add_trial_run_arguments(p)
    p.set_defaults(handler=handle)


def add_trial_run_arguments(p: argparse.ArgumentParser) -> None:
    """How a set of trials runs (workers, --set, data, precision, trackers, executor): the
    options of every verb that runs suites (sweep, claims run)."""
    p.add_argument("--workers", type=int, default=1, help="trials run in parallel processes")
    p.add_argument("--trials-per-gpu", type=int, default=None, metavar="K",
                   help="on a GPU machine, K worker processes per GPU (replaces --workers "
                        "there); ignored with a note where no GPU is visible")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                   help="settings applied to every trial (as in wdbench run)")
    p.add_argument("--data-dir", default=None, help="local data directory (offline use)")
    p.add_argument("--mixed-precision", choices=PRECISIONS, default=None,
                   help="autocast precision for every trial")
    p.add_argument("--quiet", action="store_true", help="no progress bars or summary")
    common.add_log_with(p)
    from bench.trial.executor_options import add_executor_arguments

    add_executor_arguments(p)


def check_run_arguments(args: argparse.Namespace) -> dict:
    """The checks of `add_trial_run_arguments`' values; returns the --set overrides (with
    --mixed-precision folded in)."""
    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1 (got {args.workers})")
    if args.trials_per_gpu is not None and args.trials_per_gpu < 1:
        raise UsageError(f"--trials-per-gpu must be >= 1 (got {args.trials_per_gpu}); "
                         "e.g. --trials-per-gpu 4")
    overrides = parse_settings(args.set)
    if args.mixed_precision:
        overrides["mixed_precision"] = args.mixed_precision
    return overrides


def handle(args: argparse.Namespace) -> int:
    from bench.executors.sweep import SweepOptions, run_sweep

    path = suites.resolve(args.suite, args.task)
    suite = suites.load(path)
    if args.task and args.suite and args.task != suite.task:
        raise UsageError(f"suite {path} is for task {suite.task!r}, not {args.task!r}")
    if args.optimizers:
        suite = _subset(suite, args.optimizers)
    if args.submissions:
        common.importable_cwd()
        common.check_optimizers(args.submissions)
        suite = suites.with_submissions(suite, args.submissions)
    common.check_task(suite.task)
    common.check_optimizers(list(suite.optimizers))
    budget = args.budget or suite.budget or common.resolve_budget(None)
    common.check_budget(suite.task, budget)
    overrides = check_run_arguments(args)
    trials = suite.trials(budget, overrides)
    log_with = common.parse_log_with(args.log_with or suite.log_with)
    out = common.check_out(args.out) if args.out is not None else Path("results") / suite.name
    executor = executor_options(args, suite.executor, f"{path}: executor", budget, out, trials)
    common.ensure_writable(out)
    paths.check_own_folders(out)
    common.check_data(trials[0], args.data_dir)
    workers = capped_workers(args.workers, len(trials), executor, args.quiet)
    try:
        counts = run_sweep(trials, SweepOptions(out=out, workers=workers,
                                            data_dir=args.data_dir, quiet=args.quiet,
                                            suite=suite.name, executor=executor,
                                            detach=args.detach, log_with=log_with,
                                            trials_per_gpu=args.trials_per_gpu))
    except KeyboardInterrupt:
        print(f"interrupted: {_finished(out, trials)} trials finished and kept; "
              "run the same command to resume", file=sys.stderr)
        return 130
    if args.detach:
        return 0
    if not args.quiet:
        print_summary(out, {t.id for t in trials})
        print(f"ran {counts['done']} done, {counts['diverged']} diverged, "
              f"{counts['failed']} failed; {counts['skipped']} already finished; "
              f"{counts['elsewhere']} run by another sweep; {counts['pending']} pending; "
              f"ledger: {out}", file=sys.stderr)
    if args.submissions:
        from bench.report import render
        page = render([out], out / "report", figures=args.figures)
        print(f"report: {page}", file=sys.stderr)
    failed = _suite_failed(out, trials)
    if failed and not counts["failed"] and not args.quiet:
        print(f"{failed} of this suite's trials failed in an earlier sweep and were not "
              "re-run here", file=sys.stderr)
    return 1 if counts["failed"] or counts["pending"] or failed else held_elsewhere(counts)


def held_elsewhere(counts: dict[str, int]) -> int:
    """HELD_ELSEWHERE, with one line saying so, where trials that another sweep holds were
    skipped (their results are not in yet); else 0."""
    held = counts.get("elsewhere", 0)
    if not held:
        return 0
    print(f"{held} trial(s) held by another sweep (running or queued elsewhere) were "
          f"skipped: run the same command again later to finish them (exit status "
          f"{HELD_ELSEWHERE})", file=sys.stderr)
    return HELD_ELSEWHERE


def capped_workers(workers: int, n_trials: int, executor: object, quiet: bool) -> int:
    """--workers at most the trials and the cores (more processes only compete)."""
    import os

    if getattr(executor, "kind", "local") != "local":
        return workers
    cap = max(1, min(n_trials, os.cpu_count() or 1))
    if workers > cap:
        if not quiet:
            print(f"note: --workers {workers} capped to {cap} ({n_trials} trials, "
                  f"{os.cpu_count()} cores)", file=sys.stderr)
        return cap
    return workers


def _records_of(out: Path, trials: list) -> list[dict]:
    from bench.ledger.store import Ledger

    ids = {t.id for t in trials}
    return [r for r in Ledger(out).records() if r["id"] in ids]


def _finished(out: Path, trials: list) -> int:
    return sum(r["status"] != "failed" for r in _records_of(out, trials))


def _suite_failed(out: Path, trials: list) -> int:
    return sum(r["status"] == "failed" for r in _records_of(out, trials))


def executor_options(args: argparse.Namespace, suite_executor: dict, where: str, budget: str,
                     out: Path, trials: list) -> object:
    """Executor settings (suite < --executor-config < flags); SLURM checked before writing."""
    from bench.executors import ExecutorOptions
    executor = ExecutorOptions.from_args(args, suite_executor, where=where)
    if args.detach and executor.kind != "slurm":
        raise UsageError("--detach needs --executor slurm (a local sweep runs in this process)")
    if executor.kind == "slurm":
        from bench.executors import slurm
        executor = executor.with_budget_defaults(budget)
        slurm.check_cluster(executor, slurm.measured_trial_s(out, trials[0]))
    return executor


def _subset(suite: suites.Suite, wanted_text: str) -> suites.Suite:
    wanted = [o.strip() for o in wanted_text.split(",") if o.strip()]
    if not wanted:
        raise UsageError(f"--optimizers {wanted_text!r} names no optimizer; give a "
                         f"comma-separated subset of: {', '.join(suite.optimizers)}")
    unknown = [o for o in wanted if o not in suite.optimizers]
    if unknown:
        raise UsageError(f"optimizer(s) {', '.join(unknown)} not in suite {suite.name}; "
                         f"it has: {', '.join(suite.optimizers)} (add others with --with)")
    return suites.Suite(**{**suite.__dict__, "optimizers": {
        k: v for k, v in suite.optimizers.items() if k in wanted}})


def print_summary(out: Path, ids: set[str] | None = None) -> None:
    """Each optimizer's selected configuration, by the report's rule (bench/analysis/ranking.py),
    among the suite's own trials (`ids`; other tasks and budgets may share the directory)."""
    from bench.analysis.ranking import summary_frame
    from bench.ledger.store import load_trials

    frame = load_trials(out)
    if ids is not None and not frame.empty:
        frame = frame[frame["id"].isin(ids)]
    best = summary_frame(frame)
    if not best.empty:
        print(best.to_string(index=False, float_format="%.4g"))
