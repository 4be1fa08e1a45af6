"""`wdbench` command line: one module per verb, each with `add_parser(subparsers)` and
`handle(args) -> int`. Heavy libraries (torch, transformers, seaborn) load only inside the
handler that needs them, so `wdbench --help` answers at once."""

from __future__ import annotations

import argparse
import gc
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
    code = _run(argv)
    if argv is None:  # the program itself, not a caller: it must end even if threads linger
        from bench.isolation.threads import exit_despite_lingering

        exit_despite_lingering(code)
        # The process ends now: the cyclic garbage collector's passes over every object left
        # (torch's hundreds of thousands) took ~2 s of each command's exit; frozen, they are
        # skipped. atexit hooks still run; objects kept only by reference cycles are not
        # finalized, and every file a command writes is closed before it returns.
        gc.freeze()
    return code


def _run(argv: Sequence[str] | None) -> int:
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
