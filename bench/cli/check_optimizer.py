"""`wdbench check-optimizer OPTIMIZER`: the conformance probes of `bench.conformance.checks`,
printed. Exit 0 when every check passes, 1 when one fails (an import or constructor that hangs
or ends the process fails the `construction` check), 2 when OPTIMIZER cannot be imported or
built."""

from __future__ import annotations

import argparse
import json

from bench.cli import common
from bench.errors import UsageError
from bench.trial.config import parse_settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-optimizer",
                       help="probe an optimizer's decay semantics and conformance")
    p.add_argument("optimizer", metavar="OPTIMIZER",
                   help="registered name or module:attr (Optimizer class or factory)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                   help="extra constructor arguments")
    p.add_argument("--probe-timeout-s", type=float, default=None, metavar="SECONDS",
                   help="time limit of each probe, and of the optimizer's import and "
                        "construction, each run in its own process; an optimizer that hangs "
                        "or exits fails that probe (default: 60)")
    p.add_argument("--json", action="store_true",
                   help="print the verdict with every probe measurement as JSON")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from bench.conformance.bounded import check
    from bench.conformance.checks import format_report
    from bench.isolation.time_limit import DEFAULT_TIMEOUT_S

    timeout = DEFAULT_TIMEOUT_S if args.probe_timeout_s is None else args.probe_timeout_s
    if not timeout > 0:
        raise UsageError(f"--probe-timeout-s must be > 0 (got {args.probe_timeout_s:g}); "
                         "e.g. --probe-timeout-s 60")
    common.importable_cwd()
    report = check(args.optimizer, parse_settings(args.set), timeout)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print(format_report(report))
    return 0 if report.passed else 1
