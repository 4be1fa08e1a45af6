"""The figure that shows a claim's verdict on a group: its statistic per configuration (mean
over seeds, 95% interval), the band where it holds shaded, each point coloured by that
configuration's verdict. Drawn in the report's figure workers from plain data."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt

from bench.claims.judging import describe_band, label
from bench.report import plots
from bench.report.claim_verdicts import Judged
from bench.report.plots import Figure

COLORS = {"holds": "#2e8b57", "violated": "#c0392b", "inconclusive": "#e69f00",
          "not-applicable": "#8c8c8c"}
MAX_ROWS = 60  # more configurations than this: the first MAX_ROWS are drawn, the caption says so

Point = tuple[str, float | None, float | None, float | None, str]  # label, mean, low, high, kind


def figure_job(j: Judged, out: Path) -> plots.Job:
    """The painter job of one claim's figure on one group."""
    points: list[Point] = []
    for case in j.verdict.cases:
        low, high = case.interval if case.interval is not None else (None, None)
        points.append((label(case), case.statistic, low, high, case.outcome.value))
    metric, band = j.claim.statistic.metric, j.claim.statistic.band
    shown = min(len(points), MAX_ROWS)
    caption = (f"Claim {j.claim.id} ({j.claim.slug}) on {j.group.title}: {metric} of each "
               f"configuration it judged, mean over seeds (dot) with its 95% interval (bar, from "
               f"two seeds); shaded: where the claim holds ({describe_band(band)}); colour: "
               "that configuration's verdict. A configuration without a recorded value is "
               "listed without a dot.")
    if shown < len(points):
        caption += f" The first {shown} of {len(points)} configurations are drawn."
    figure = Figure(j.figure_name, f"Claim {j.claim.id}: {j.claim.title}", caption, wide=True)
    return (forest_plot, (points[:MAX_ROWS], band, metric), {"out": out, "figure": figure})


def forest_plot(points: list[Point], band: tuple[float | None, float | None], metric: str, *,
                out: Path, figure: Figure) -> Figure | None:
    if not points:
        return None
    n = len(points)
    # Inches: the labels' column (about 0.058 in per character at this font size), the axes,
    # the legend; below, the x label; above, a little air.
    labels_w = 0.3 + 0.058 * max(len(p[0]) for p in points)
    width, height = labels_w + 4.6 + 1.9, 0.95 + 0.27 * n
    fig, ax = plt.subplots(figsize=(width, height))
    values = [v for _, mean, low, high, _ in points for v in (mean, low, high) if v is not None]
    lo_b, hi_b = band
    edges = [e for e in band if e is not None]
    span = values + edges
    left, right = (min(span), max(span)) if span else (0.0, 1.0)
    pad = 0.05 * (right - left) or 0.05 * max(abs(right), 1e-3)
    left, right = left - pad, right + pad
    ax.axvspan(lo_b if lo_b is not None else left, hi_b if hi_b is not None else right,
               color=COLORS["holds"], alpha=0.12, lw=0,
               label=f"holds: {describe_band(band)}")
    for e in edges:
        ax.axvline(e, color=COLORS["holds"], lw=1, ls=":")
    # One errorbar call per verdict (a call per point costs a figure's worth of artists).
    for kind, color in COLORS.items():
        rows = [(row, mean, low, high) for row, (_, mean, low, high, k) in enumerate(points)
                if k == kind and mean is not None and math.isfinite(mean)]
        if not rows:
            continue
        ys = [r[0] for r in rows]
        xs = [r[1] for r in rows]
        err = [[max(0.0, x - lo) if lo is not None else 0.0 for _, x, lo, _ in rows],
               [max(0.0, hi - x) if hi is not None else 0.0 for _, x, _, hi in rows]]
        ax.errorbar(xs, ys, xerr=err, fmt="o", color=color, ms=5, capsize=3, lw=1.4,
                    label=kind)
    ax.set_yticks(range(n), [plots.label(p[0]) for p in points], fontsize=7.5)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xlim(left, right)
    if _wide(values, edges):
        ax.set_xscale("symlog", linthresh=max(min(abs(e) for e in edges if e) if any(edges)
                                              else 1e-3, 1e-6))
    ax.set_xlabel(f"{metric} (mean over seeds, 95% interval)")
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.subplots_adjust(left=labels_w / width, right=(labels_w + 4.6) / width,
                        bottom=0.6 / height, top=1 - 0.2 / height)
    return plots._save(fig, out, figure)


def _wide(values: list[float], edges: list[float]) -> bool:
    """Values spread over decades beyond a narrow band: a symmetric log axis shows both."""
    if not values or not edges:
        return False
    width = max(edges) - min(edges) if len(edges) > 1 else abs(edges[0])
    spread = max(abs(v) for v in values)
    return width > 0 and spread > 50 * width
