"""`wdbench` command line: one module per verb, each with `add_parser(subparsers)` and
`handle(args) -> int`. Heavy libraries (torch, transformers, seaborn) load only inside the
handler that needs them, so `wdbench --help` answers at once."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from bench.errors import UsageError

VERBS = ("run", "sweep", "status", "list", "check_optimizer", "audit", "claims", "report",
         "export")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wdbench",
        description="Benchmark decoupled vs coupled weight decay (AdamW, SignGD-WD, Lion vs "
                    "Adam + l2): generalization and l_inf-box constraint satisfaction.")
    sub = parser.add_subparsers(dest="command", required=True)
    for verb in VERBS:
        importlib.import_module(f"bench.cli.{verb}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except UsageError as err:
        print(f"wdbench: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `wdbench list | head`: the reader left; nothing is lost
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silences the exit-time flush
        return 0
    except KeyboardInterrupt:
        print("wdbench: interrupted; finished trials are kept, re-run to resume",
              file=sys.stderr)
        return 130


__all__ = ["build_parser", "main"]
