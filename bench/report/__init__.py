"""The results ledger -> a static site (or Markdown) that opens from disk; `render` is the
library entry point (the `wdbench report` verb is `bench/cli/report.py`).

Pages: index.html (a leaderboard and a constraint table per task/budget/data), one page per
group with the plots, one per optimizer; every table also as CSV under tables/."""

from __future__ import annotations

from pathlib import Path


def render(results: list[str | Path], out: str | Path, fmt: str = "html",
           figures: bool = True) -> Path:
    """Library entry point: build the report and return the page to open. figures=False
    leaves the figures out of the HTML pages (tables and CSV only, quicker)."""
    from bench.report.site import build

    return build([str(d) for d in results], Path(out), fmt, figures)
