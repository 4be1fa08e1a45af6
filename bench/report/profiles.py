"""Across the tasks of a results directory: time-to-target and the performance profile of
each optimizer, as AlgoPerf scores training algorithms (the numbers come from
bench/measures/scoring.py).

Per task (a report group whose records declare a target), an optimizer's time is that of its
fastest configuration: the median over seeds of time_to_target_s, the minimum over its
(lr, λ) configurations (AlgoPerf's external tuning takes the fastest tuning trial). A
configuration never reaching the target has time ∞.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from bench.measures import scoring
from bench.report.data import Group
from bench.report.plots import Figure
from bench.report.tables import Column, Table

CLOCK = "time_to_target_s"


def task_times(groups: list[Group]) -> dict[str, dict[str, float]]:
    """group title -> optimizer -> its fastest configuration's median time to target."""
    times: dict[str, dict[str, float]] = {}
    for g in groups:
        t = g.trials
        if CLOCK not in t or "target" not in t or t["target"].isna().all():
            continue
        scored = t[t["target"].notna()].copy()
        # Diverged or failed trials did not reach the target.
        scored[CLOCK] = scored[CLOCK].where(scored["status"] == "done", math.inf).fillna(math.inf)
        keys = ["optimizer", "variant", "lr", "weight_decay"]
        per_config = scored.groupby(keys, dropna=False)[CLOCK].median().reset_index()
        best = per_config.groupby("optimizer")[CLOCK].min()
        times[g.title] = {str(o): float(v) for o, v in best.items()}
    return times


def profile_table(groups: list[Group]) -> Table | None:
    """One row per optimizer: its performance-profile score and on how many tasks it reached
    the target; None where no task declares a target."""
    times = task_times(groups)
    if not times:
        return None
    scores = scoring.profile_scores(times)
    ratios = scoring.performance_ratios(times)
    rows = []
    for opt, score in scores.items():
        reached = sum(math.isfinite(times[t].get(opt, math.inf)) for t in times)
        fastest = sum(ratios[t].get(opt) == 1.0 for t in times)
        rows.append({"optimizer": opt, "profile_score": score, "tasks_reached": reached,
                     "tasks_fastest": fastest, "tasks_scored": len(times)})
    frame = pd.DataFrame(rows).sort_values(["profile_score", "optimizer"],
                                           ascending=[False, True]).reset_index(drop=True)
    cols = [Column("optimizer"), Column("profile_score"), Column("tasks_reached"),
            Column("tasks_fastest"), Column("tasks_scored")]
    note = ("Tasks scored: " + "; ".join(
        f"{title} (target {_target(groups, title)})" for title in times) + ". Time per task: "
        "the optimizer's fastest configuration (median over seeds of time_to_target_s).")
    return Table("performance-profile", "Performance profile (time to target, all tasks)",
                 cols, frame, note=note)


def _target(groups: list[Group], title: str) -> str:
    g = next(g for g in groups if g.title == title)
    values = g.trials["target"].dropna().unique()
    return ", ".join(f"{g.selection.metric} {v:.4g}" for v in values)


def profile_plot(times: dict[str, dict[str, float]], colors: dict[str, tuple], *, out: Path,
                 figure: Figure) -> Figure | None:
    import matplotlib.pyplot as plt

    from bench.report.plots import _save, label

    if not times:
        return None
    taus, rho = scoring.profile(times)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for opt, curve in sorted(rho.items()):
        ax.step(taus, curve, where="post", label=label(opt), color=colors.get(opt))
    ax.set_xlabel("τ (time to target within a factor τ of the fastest)")
    ax.set_ylabel("share of tasks")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(1.0, scoring.TAU_MAX)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.subplots_adjust(left=0.11, right=0.74, bottom=0.14, top=0.96)
    return _save(fig, out, figure)


PROFILE_FIGURE = Figure(
    "performance-profile", "Performance profile",
    "ρ(τ): the share of tasks on which each optimizer's fastest configuration reaches the "
    "task's target within τ times the fastest optimizer's time (AlgoPerf). The score is the "
    "area under ρ for τ from 1 to 4, divided by 3.")
