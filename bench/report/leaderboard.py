"""The leaderboard: one row per optimizer at its validation-selected configuration, with
intervals over seeds and the paired difference to the top row."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.analysis.stats import bootstrap_ci, mean_ci, paired_test
from bench.report.data import Group
from bench.report.tables import Column, Table, metric_names, selected_trials, variant_column

# Final metrics shown as means over the selected configuration's seeds, where recorded.
MEAN_METRICS = ("train_loss", "dist_box", "dist_l2", "linf_ratio", "radius_t", "fw_gap_rel",
                "boundary_frac", "l2_stationarity", "wall_s", "step_s", "tokens_per_s")
# AlgoPerf-style: the median over the selected configuration's seeds (inf: never reached).
TO_TARGET = ("steps_to_target", "time_to_target_s")
TRAILING = ("train_loss", "gap", "dist_box", "dist_l2", "linf_ratio", "metric_radius", "radius_t",
            "fw_gap_rel", "boundary_frac", "l2_stationarity", "diverged", "failed", "wall_s",
            "step_s", "tokens_per_s")


def leaderboard(group: Group, slugs: dict[str, str]) -> Table:
    """One row per optimizer at its validation-selected configuration."""
    t = group.trials
    names = metric_names(group)
    sel = group.selection
    rows = []
    per_seed: dict[str, pd.Series] = {}
    for b, trials in selected_trials(group):
        per_seed[b["optimizer"]] = trials.set_index("seed")[sel.metric] \
            if sel.metric in trials else pd.Series(dtype=float)
        row = {"optimizer": b["optimizer"], "href": f"optimizer-{slugs[b['optimizer']]}.html",
               "decay": b.get("decay"), "lr": b["lr"],
               "weight_decay": b["weight_decay"], "variant": b["variant"] or "",
               "schedule": b.get("schedule"),
               "seeds": ", ".join(str(int(s)) for s in sorted(trials["seed"])) or "—",
               "trials": b["opt_trials"], "diverged": b["opt_diverged"],
               "failed": b["opt_failed"], "partial": b["selected_partial"],
               "metric_radius": b.get("metric_radius")}
        for role in ("selection", "headline", "test"):
            metric = names[role]
            if metric:
                ci = mean_ci(trials[metric]) if metric in trials else mean_ci([])
                row[metric], row[f"{metric}_ci"], row[f"{metric}_n"] = ci.mean, ci.half_width, ci.n
        boot = bootstrap_ci(trials[sel.metric]) if sel.metric in trials else None
        row["bootstrap_ci"] = "—" if boot is None else f"[{boot[0]:.4g}, {boot[1]:.4g}]"
        for metric in MEAN_METRICS:
            if metric in t and t[metric].notna().any():
                row[metric] = trials[metric].mean() if metric in trials else np.nan
        if "val_loss" in trials and "train_loss" in trials:
            row["gap"] = (trials["val_loss"] - trials["train_loss"]).mean()
        for key in TO_TARGET:
            if key in trials and trials[key].notna().any():
                row[key] = trials[key].median()
        rows.append(row)
    frame = pd.DataFrame(rows)
    notes = []
    if len(frame):
        frame = frame.sort_values(sel.metric, ascending=sel.ascending, na_position="last",
                                  kind="stable").reset_index(drop=True)
        notes += _paired(frame, per_seed, sel.metric)
        if frame["partial"].eq(True).any():
            notes.append("Rows marked † were selected among configurations where some seeds "
                         "diverged or failed: no configuration of that optimizer finished all "
                         "its seeds.")
        frame["optimizer_label"] = [o + (" †" if p is True else "")
                                    for o, p in zip(frame["optimizer"], frame["partial"])]
    if group.stale:
        notes.append(f"{group.stale} records of older code (another code_fingerprint) were "
                     "left out: re-run the sweep to refresh them.")
    if group.superseded:
        notes.append(f"{group.superseded} records repeat a configuration and seed that another "
                     "record (the latest finished) already counts for, differing only in "
                     "bookkeeping (checkpoint_every, eval_every, compile): left out.")
    cols = [Column("optimizer", "Click for the optimizer's page", link="href",
                   show="optimizer_label"),
            Column("decay"), Column("lr", "Selected peak learning rate."),
            Column("weight_decay", "Selected value.")]
    schedules = sorted({str(v) for v in frame.get("schedule", pd.Series(dtype=str)).dropna()})
    if len(schedules) > 1:
        cols.append(Column("schedule"))
    elif schedules:
        notes.append(f"Learning-rate schedule: {schedules[0]} for every row.")
    variant_column(frame, cols)
    cols.append(Column("seeds"))
    cols.append(Column(sel.metric, "Selection metric: mean ± 95% t-interval over seeds.",
                       kind="ci"))
    if names["headline"]:
        cols.append(Column(names["headline"], "Mean ± 95% interval.", kind="ci"))
    if names["test"]:
        cols.append(Column(names["test"], "At the validation-selected configuration.",
                           kind="ci"))
    if len(frame) and "delta" in frame:
        cols.append(Column("delta", kind="ci"))
        cols.append(Column("p_value", "Paired t-test of Δ = 0 (scipy.stats.ttest_rel) over "
                           "the seeds both rows finished."))
    if len(frame) and (frame["bootstrap_ci"] != "—").any():
        cols.append(Column("bootstrap_ci", kind="text"))
    for key in TO_TARGET:
        if key in frame and frame[key].notna().any():
            cols.append(Column(key, "Median over the selected configuration's seeds."))
    for key in TRAILING:
        if key == "radius_t" and not _moves(frame):
            continue  # the radius at the last step equals metric_radius for every row
        if key in frame and (key != "metric_radius" or frame[key].notna().any()):
            note = "Totals over all configurations." if key in ("diverged", "failed") else ""
            cols.append(Column(key, note))
    return Table(f"leaderboard-{group.slug}", f"Leaderboard: {group.title}", cols, frame,
                 empty="No trial of this task has been recorded.", notes=notes)


def _paired(frame: pd.DataFrame, per_seed: dict[str, pd.Series], metric: str) -> list[str]:
    """Δ to the leader on the seeds both ran (same init and data order: paired)."""
    leader = frame["optimizer"].iloc[0]
    ref = per_seed.get(leader, pd.Series(dtype=float)).dropna()
    deltas, halves, ns, pvalues = [], [], [], []
    for opt in frame["optimizer"]:
        mine = per_seed.get(opt, pd.Series(dtype=float)).dropna()
        common = ref.index.intersection(mine.index)
        if opt == leader or not len(common):
            deltas.append(np.nan)
            halves.append(np.nan)
            ns.append(0)
            pvalues.append(np.nan)
            continue
        test = paired_test(mine[common].tolist(), ref[common].tolist())
        deltas.append(test.delta.mean)
        halves.append(test.delta.half_width)
        ns.append(test.delta.n)
        pvalues.append(test.p_value)
    frame["delta"], frame["delta_ci"], frame["delta_n"] = deltas, halves, ns
    frame["p_value"] = pvalues
    seed_sets = {tuple(sorted(s.dropna().index)) for s in per_seed.values() if len(s.dropna())}
    if len(seed_sets) == 1:
        seeds = ", ".join(str(int(s)) for s in next(iter(seed_sets)))
        return [f"Paired seeds: every optimizer's selected configuration ran seeds {seeds} "
                "(same initialization and data order), so Δ vs #1 is a paired difference."]
    return ["Seeds differ between optimizers (an unfinished sweep?): Δ vs #1 uses only the "
            "seeds both rows finished; intervals over different seeds are not paired."]


def _moves(frame: pd.DataFrame) -> bool:
    """Some row's final radius (fixed, corrected decay: it follows η_t) is not metric_radius."""
    if "radius_t" not in frame or "metric_radius" not in frame:
        return False
    a, b = frame["radius_t"], frame["metric_radius"]
    return bool(((a - b).abs() > 1e-9 * b.abs().clip(lower=1)).fillna(False).any())
