"""`wdbench claims`: the literature's claims as code (bench/claims).

    wdbench claims list [--json]
    wdbench claims run [ID ...|--all] [--budget smoke|cpu|full] [--out DIR] [sweep options]
    wdbench claims pages DIR [--to docs/results/claims]

`run` runs the trials of the claims' suites that the ledger in DIR lacks (resume as always,
through the sweep machinery: bench/executors/sweep.py), judges each claim from the records,
writes DIR/claims.json and renders the report into DIR (unless --no-report). `pages` turns
DIR/claims.json into one Markdown page per claim (bench/report/claim_pages.py)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from bench.cli import common
from bench.errors import UsageError

DEFAULT_OUT = Path("results") / "claims"
DEFAULT_PAGES = Path("docs") / "results" / "claims"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("claims", help="the literature's claims: list them, or run and judge")
    verbs = p.add_subparsers(dest="claims_command", required=True, help="list | run | pages")
    lister = verbs.add_parser("list", help="each claim: id, source, statement, preconditions, "
                                           "budgets")
    lister.add_argument("--json", action="store_true", help="machine-readable output")
    lister.set_defaults(handler=handle)
    from bench.cli.sweep import EXIT_STATUS, add_trial_run_arguments

    runner = verbs.add_parser("run", help="run what the claims need, judge them, write "
                                          "claims.json and the report", epilog=EXIT_STATUS,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    runner.add_argument("ids", nargs="*", metavar="ID", help="claim ids or slugs "
                                                            "(wdbench claims list)")
    runner.add_argument("--all", action="store_true", help="every claim")
    runner.add_argument("--budget", choices=("smoke", "cpu", "full"), default=None,
                        help="smoke (plumbing, seconds), cpu (a verdict on a laptop) or full "
                             "(paper scale, a GPU or SLURM); default cpu, full with a GPU")
    runner.add_argument("--out", default=None, help=f"results directory (default {DEFAULT_OUT})")
    runner.add_argument("--no-report", action="store_true",
                        help="write claims.json only, not the report (`wdbench report DIR` "
                             "renders it later)")
    from bench.cli.report import add_no_figures

    add_no_figures(runner, "the report")
    add_trial_run_arguments(runner)
    runner.set_defaults(handler=handle)
    pages = verbs.add_parser("pages", help="one Markdown page per claim from DIR/claims.json "
                                           "(command, commit, data and machine stated)")
    pages.add_argument("results", metavar="DIR", help="the --out of `wdbench claims run`")
    pages.add_argument("--to", default=None,
                       help=f"where the pages go (default {DEFAULT_PAGES})")
    pages.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    return {"list": handle_list, "run": handle_run,
            "pages": handle_pages}[args.claims_command](args)


def handle_list(args: argparse.Namespace) -> int:
    from bench.claims.registry import claims

    described = [c.describe() for c in claims()]
    if args.json:
        print(json.dumps(described, indent=1, ensure_ascii=False))
        return 0
    for c in described:
        print(f"{c['id']}. {c['title']} [{c['slug']}]")
        print(f"   source: {c['source']}")
        print(f"   claim: {c['statement']}")
        for pre in c["preconditions"]:
            print(f"   needs: {pre}")
        print(f"   statistic: {c['statistic']['description']}; threshold "
              f"{_band(c['threshold'])}")
        for budget, runs in c["budgets"].items():
            said = ", ".join(f"{r['suite']} ({r['task_budget']}"
                             + "".join(f", {k}={v}" for k, v in r["settings"].items()) + ")"
                             for r in runs)
            print(f"   {budget}: {said}")
    return 0


def _band(threshold: dict) -> str:
    low, high = threshold["low"], threshold["high"]
    if low is not None and high is not None:
        return f"in [{low:g}, {high:g}]"
    return f"≤ {high:g}" if high is not None else f"≥ {low:g}"


def handle_run(args: argparse.Namespace) -> int:
    from bench.claims import runner
    from bench.claims.registry import select
    from bench.cli.sweep import (
        capped_workers,
        check_run_arguments,
        executor_options,
        held_elsewhere,
    )

    chosen = select(args.ids, args.all)
    budget = common.resolve_budget(args.budget)
    overrides = check_run_arguments(args)
    by_claim = runner.all_trials(chosen, budget, overrides)
    trials = list({t.id: t for ts in by_claim.values() for t in ts}.values())
    if not trials:
        raise UsageError(f"claim(s) {', '.join(c.id for c in chosen)} declare no suite at "
                         f"budget {budget!r}; see `wdbench claims list`")
    for task in dict.fromkeys(t.task for t in trials):
        common.check_task(task)
    common.check_optimizers(list(dict.fromkeys(t.optimizer for t in trials)))
    log_with = common.parse_log_with(args.log_with)
    out = common.check_out(args.out) if args.out is not None else DEFAULT_OUT
    executor = executor_options(args, {}, "claims", budget, out, trials)
    common.ensure_writable(out)
    for first in {t.task: t for t in reversed(trials)}.values():
        common.check_data(first, args.data_dir)
    workers = capped_workers(args.workers, len(trials), executor, args.quiet)
    counts = _sweep(trials, out, workers, executor, log_with, args)
    if counts is None:
        return 130
    if args.detach:
        return 0
    from bench.ledger.store import Ledger

    records = Ledger(out).records()
    results = runner.judge(chosen, by_claim, records)
    path = runner.write_results(out, budget, results, _git_rev(), _command(args, chosen, out),
                                runner.judged_on(chosen, by_claim, records))
    for claim, verdict in results:
        print(f"claim {claim.id} ({claim.slug}): {verdict.outcome.value}: {verdict.reason}")
    if not args.quiet:
        print(f"claims: {path}", file=sys.stderr)
    if not args.no_report:
        from bench.report import render

        page = render([out], out, figures=args.figures)
        if not args.quiet:
            print(f"report: {page}", file=sys.stderr)
    return 1 if counts["failed"] or counts["pending"] else held_elsewhere(counts)


def _sweep(trials: list, out: Path, workers: int, executor: object, log_with: tuple,
           args: argparse.Namespace) -> dict | None:
    """Run what the ledger lacks (None: interrupted, finished trials kept)."""
    from bench.executors.sweep import SweepOptions, run_sweep

    try:
        return run_sweep(trials, SweepOptions(out=out, workers=workers, data_dir=args.data_dir,
                                              quiet=args.quiet, suite="claims",
                                              executor=executor, detach=args.detach,
                                              log_with=log_with,
                                              trials_per_gpu=args.trials_per_gpu))
    except KeyboardInterrupt:
        print("interrupted: finished trials are kept; run the same command to resume",
              file=sys.stderr)
        return None


def handle_pages(args: argparse.Namespace) -> int:
    from bench.report.claim_pages import write_pages

    results = Path(args.results)
    if not results.is_dir():
        raise UsageError(f"results directory {results} does not exist; pass the --out of "
                         "`wdbench claims run` (it holds claims.json)")
    to = common.check_out(args.to) if args.to is not None else DEFAULT_PAGES
    command = f"wdbench claims pages {shlex.quote(str(results))} --to {shlex.quote(str(to))}"
    for path in write_pages(results, to, command):
        print(path)
    return 0


def _command(args: argparse.Namespace, chosen: tuple, out: Path) -> str:
    """The `wdbench claims run` line that reproduces this judgement (ids, budget, out and
    settings; the executor options do not change a verdict)."""
    words = ["wdbench", "claims", "run",
             *(["--all"] if args.all else [c.id for c in chosen]),
             "--budget", common.resolve_budget(args.budget), "--out", str(out)]
    for setting in args.set or []:
        words += ["--set", setting]
    return shlex.join(words)


def _git_rev() -> str | None:
    from bench.engine.environment import git_revision

    return git_revision()
