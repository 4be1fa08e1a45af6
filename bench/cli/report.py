"""`wdbench report`: the results ledger -> a static site (or Markdown) that opens from disk
(built by `bench.report.render`)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench.cli import common
from bench.errors import UsageError
from bench.ledger import paths


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="build the HTML report from results directories")
    p.add_argument("results", nargs="*", default=["results"],
                   help="results directories (the --out of sweeps; default: results)")
    p.add_argument("--out", default=None, help="output directory (default <first>/report)")
    p.add_argument("--format", choices=["html", "md"], default="html",
                   help="a static HTML site, or one Markdown page")
    add_no_figures(p, "the HTML pages (the Markdown page has none)")
    p.set_defaults(handler=handle)


def add_no_figures(p: argparse.ArgumentParser, pages: str) -> None:
    """`--no-figures` (args.figures False) of every verb that renders the report."""
    p.add_argument("--no-figures", dest="figures", action="store_false",
                   help=f"leave the figures out of {pages}: tables and CSV only, drawn in a "
                        "fraction of the time")


def handle(args: argparse.Namespace) -> int:
    dirs = [Path(d) for d in (args.results or ["results"])]
    for d in dirs:
        if not d.is_dir():
            raise UsageError(f"results directory {d} does not exist; pass the --out directory "
                             "of a sweep (it holds trials/*.json)")
    from bench.ledger.store import Ledger

    if not any(Ledger(d).ids() for d in dirs):
        raise UsageError(f"no trial records in {', '.join(map(str, dirs))} (trials/*.json); "
                         "run a sweep into it first, or pass its --out directory")
    out = common.check_out(args.out) if args.out is not None else dirs[0] / "report"
    common.ensure_writable(out)
    if args.out is None:
        paths.check_not_link(out, "--out")
    from bench.report import render
    start = time.perf_counter()
    page = render(dirs, out, args.format, args.figures)
    print(f"report: {page} ({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return 0
