"""`wdbench report`: the results ledger -> a static site (or Markdown) that opens from disk.

    wdbench report results/quadratic [more dirs] [--out DIR] [--format html|md]

Pages: index.html (a leaderboard and a constraint table per task/budget/data), one page per
group with the plots, one per optimizer; every table also as CSV under tables/."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from bench.errors import UsageError


def main(args: Any) -> int:
    dirs = [Path(d) for d in (args.results or ["results"])]
    for d in dirs:
        if not d.is_dir():
            raise UsageError(f"results directory {d} does not exist; pass the --out directory "
                             "of a sweep (it holds trials/*.json)")
    out = Path(args.out) if args.out else dirs[0] / "report"
    fmt = getattr(args, "format", "html") or "html"
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise UsageError(f"cannot write the report to {out} ({err.strerror}); pass a writable "
                         "--out DIR") from None
    from bench.report.site import build

    start = time.perf_counter()
    page = build([str(d) for d in dirs], out, fmt)
    print(f"report: {page} ({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return 0


def render(results: list[str | Path], out: str | Path, fmt: str = "html") -> Path:
    """Library entry point: build the report and return the page to open."""
    from bench.report.site import build

    return build([str(d) for d in results], Path(out), fmt)
