"""`wdbench` command line. Heavy libraries (torch, transformers, seaborn) load only inside the
subcommand that needs them, so `wdbench --help` answers at once."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bench.errors import UsageError


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run one trial")
    p.add_argument("--task", required=True)
    p.add_argument("--optimizer", required=True)
    p.add_argument("--budget", default=None, help="smoke | cpu | full (default: cpu, full on GPU)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                   help="lr, weight_decay, schedule, steps, mask, optimizer options, "
                        "task.NAME=value")
    p.add_argument("--mixed-precision", choices=["no", "bf16", "fp16"], default=None)
    p.add_argument("--data-dir", default=None, help="local data directory (offline use)")
    p.add_argument("--out", default="results/runs", help="results directory (ledger)")
    p.add_argument("--json", action="store_true", help="print the final record as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler="bench.commands:run")


def _add_sweep(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="run a suite: optimizers x lr x weight_decay x seeds")
    p.add_argument("suite", nargs="?", help="suite YAML file or name under bench/suites/")
    p.add_argument("--task", default=None, help="use the task's default suite")
    p.add_argument("--optimizers", default=None, help="comma-separated subset")
    p.add_argument("--budget", default=None)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--set", action="append", metavar="KEY=VALUE", default=[])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--mixed-precision", choices=["no", "bf16", "fp16"], default=None)
    p.add_argument("--out", default=None, help="results directory (default results/<suite>)")
    p.add_argument("--quiet", action="store_true")
    from bench.executors.options import add_executor_arguments

    add_executor_arguments(p)
    p.set_defaults(handler="bench.commands:sweep")


def _add_list(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list tasks, budgets, optimizers and suites")
    p.set_defaults(handler="bench.commands:list_all")


def _add_check(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-optimizer",
                       help="probe an optimizer's decay semantics and conformance")
    p.add_argument("spec", help="registered name or module:attr (Optimizer class or factory)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                   help="extra constructor arguments")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="bench.conformance:main")


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="build the HTML report from results directories")
    p.add_argument("results", nargs="*", default=["results"])
    p.add_argument("--out", default=None, help="output directory (default <first>/report)")
    p.add_argument("--format", choices=["html", "md"], default="html")
    p.set_defaults(handler="bench.report:main")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wdbench",
        description="Benchmark decoupled vs coupled weight decay (AdamW, SignGD-WD, Lion vs "
                    "Adam + l2): generalization and l_inf-box constraint satisfaction.")
    sub = parser.add_subparsers(dest="command", required=True)
    from bench import status

    for add in (_add_run, _add_sweep, _add_list, _add_check, _add_report, status.add_parser):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module, func = args.handler.split(":")
    import importlib

    try:
        handler = getattr(importlib.import_module(module), func)
        return int(handler(args) or 0)
    except UsageError as err:
        print(f"wdbench: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("wdbench: interrupted; finished trials are kept, re-run to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
