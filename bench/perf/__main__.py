"""python -m bench.perf [NAME ...]: run every benchmark in BENCHMARKS, or the named ones;
`python -m bench.perf gpu [OPTIONS]` runs the GPU check (ON_REQUEST) with its own options."""

from __future__ import annotations

import argparse
import importlib
import sys

from bench.perf import BENCHMARKS, ON_REQUEST


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ON_REQUEST:
        return importlib.import_module(ON_REQUEST[argv[0]]).main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench.perf", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run (default all: {', '.join(BENCHMARKS)}); "
                             f"or one of {', '.join(ON_REQUEST)} followed by its options")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    status = 0
    for name in args.names or list(BENCHMARKS):
        print(f"## {name}\n", flush=True)
        status |= importlib.import_module(BENCHMARKS[name]).main([])
        print()
    return status


if __name__ == "__main__":
    sys.exit(main())
