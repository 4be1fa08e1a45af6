"""The one rule for "the best configuration of each optimizer", used by the report and the
sweep's printed summary.

A configuration is every Trial field but the seed and the bookkeeping ones
(bench/trial/config.py; `variant` names the fields besides lr and weight_decay that vary
between one optimizer's trials), and one record per (configuration, seed) counts
(bench/ledger/freshness.py). Its score is the mean of the selection metric over its finished
seeds. A configuration where any seed diverged or failed is not selectable (a result that
holds for one seed only is not a setting to recommend), unless no configuration of that
optimizer finished all its seeds; then the best partially finished one is used and flagged
(`selected_partial`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

CONFIG_KEYS = ["optimizer", "variant", "lr", "weight_decay"]
# Columns copied from a configuration's first trial (they do not vary within one).
INFO_COLUMNS = ("decay", "direction", "norm", "radius", "metric_radius", "schedule",
                "schedule_theorem", "mask", "code_fingerprint", "tau")
SUMMARY_METRICS = ("val_perplexity", "test_accuracy", "test_loss", "linf_ratio",
                   "fw_gap_rel", "boundary_frac", "l2_stationarity", "dist_box", "dist_l2")


@dataclass(frozen=True)
class Selection:
    """The validation metric hyper-parameters are chosen on, and in which direction."""

    metric: str
    mode: str  # 'min' | 'max'

    def better(self, a: float, b: float) -> bool:
        return a < b if self.mode == "min" else a > b

    @property
    def ascending(self) -> bool:
        return self.mode == "min"


def selection_for(task: str, frame: pd.DataFrame) -> Selection:
    """The selection metric the records state (selection_metric), else the task class's
    when the task is importable, else validation accuracy (higher is better) where recorded,
    validation loss (lower) otherwise."""
    if "selection_metric" in frame and frame["selection_metric"].notna().any():
        metric = frame["selection_metric"].dropna().iloc[0]
        mode = frame["selection_mode"].dropna().iloc[0] if "selection_mode" in frame and \
            frame["selection_mode"].notna().any() else "min"
        if metric in frame and frame[metric].notna().any():
            return Selection(str(metric), str(mode))
    try:
        import tasks

        cls = tasks.get(task)
        metric, mode = cls.selection_metric, cls.selection_mode
        if metric in frame and frame[metric].notna().any():
            return Selection(metric, mode)
    except Exception:  # unknown or unimportable task: fall back to the recorded columns
        pass
    if "val_accuracy" in frame and frame["val_accuracy"].notna().any():
        return Selection("val_accuracy", "max")
    return Selection("val_loss", "min")


def variants(frame: pd.DataFrame) -> pd.Series:
    """'schedule=cosine, mask=all' from the config fields (config_extra) that vary between
    one optimizer's trials (fields that differ only between optimizers are no variant)."""
    out = pd.Series("", index=frame.index, dtype=object)
    if "config_extra" not in frame:
        return out
    for _, trials in frame.groupby("optimizer"):
        extras = trials["config_extra"].map(json.loads)
        keys = sorted({k for e in extras for k in e})
        varying = [k for k in keys
                   if len({json.dumps(e.get(k), sort_keys=True) for e in extras}) > 1]
        out[trials.index] = extras.map(
            lambda e, varying=varying: ", ".join(f"{k}={_short(e.get(k))}" for k in varying))
    return out


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={v}" for k, v in sorted(value.items())) + "}"
    return str(value)


def configurations(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration: status counts (done, diverged, failed, n), finished seeds,
    means of every numeric column over finished seeds, and INFO_COLUMNS."""
    t = trials if "variant" in trials else trials.assign(variant=variants(trials))
    keys = CONFIG_KEYS
    counts = (t.groupby(keys, dropna=False)["status"].value_counts().unstack(fill_value=0)
              .reindex(columns=["done", "diverged", "failed"], fill_value=0))
    counts["n"] = counts.sum(axis=1)
    done = t[t["status"] == "done"]
    numeric = [c for c in done.columns if c not in keys and pd.api.types.is_numeric_dtype(done[c])
               and c not in ("seed", "steps", "id")]
    means = done.groupby(keys, dropna=False)[numeric].mean()
    seeds = done.groupby(keys, dropna=False)["seed"].agg(lambda s: tuple(sorted(s)))
    info = [c for c in INFO_COLUMNS if c in t]
    first = t.groupby(keys, dropna=False)[info].first()
    means = means.drop(columns=[c for c in first.columns if c in means.columns])
    out = counts.join(means).join(seeds.rename("seeds")).join(first)
    return out.reset_index()


def best_per_optimizer(configs: pd.DataFrame, selection: Selection) -> pd.DataFrame:
    """Each optimizer's selected configuration (see the module doc), plus its totals
    opt_trials, opt_diverged, opt_failed over all its configurations."""
    rows = []
    for _opt, frame in configs.groupby("optimizer", sort=False):
        metric = selection.metric
        scored = frame[frame[metric].notna()] if metric in frame else frame.iloc[:0]
        complete = scored[scored["done"] == scored["n"]]
        pool, partial = (complete, False) if len(complete) else (scored, True)
        if len(pool):
            idx = pool[metric].idxmin() if selection.mode == "min" else pool[metric].idxmax()
            row = pool.loc[idx].copy()
            row["selected_partial"] = partial
        else:  # nothing finished: keep the optimizer as a row of gaps
            row = frame.iloc[0].copy()
            for c in ("lr", "weight_decay", "radius"):
                row[c] = np.nan
            row["selected_partial"] = None
        row["opt_trials"] = frame["n"].sum()
        row["opt_diverged"] = frame["diverged"].sum()
        row["opt_failed"] = frame["failed"].sum()
        rows.append(row)
    return pd.DataFrame(rows).reset_index(drop=True)


def summary_frame(trials: pd.DataFrame) -> pd.DataFrame:
    """The CLI's sweep summary: per (task, budget) and optimizer its selected configuration,
    best first, with schema-named columns (bench/schema.py); records of older code are left
    out as in the report (bench/ledger/freshness.py)."""
    if trials.empty or "status" not in trials:
        return pd.DataFrame()
    parts = []
    from bench.ledger.freshness import newest_code, one_per_sample

    for (task, _budget), frame in trials.groupby(["task", "budget"], sort=True, dropna=False):
        frame, _stale = newest_code(frame)  # as the report: never mix code in one ranking
        frame, _superseded = one_per_sample(frame)  # and count a (configuration, seed) once
        sel = selection_for(str(task), frame)
        best = best_per_optimizer(configurations(frame), sel)
        if sel.metric not in best:
            continue
        best = best.sort_values(sel.metric, ascending=sel.ascending, na_position="last",
                                kind="stable")
        # Totals over all the optimizer's configurations, not the selected one's counts.
        best = best.drop(columns=["diverged", "failed"]).rename(columns={
            "opt_trials": "trials", "opt_diverged": "diverged", "opt_failed": "failed"})
        best.insert(0, "task", task)
        cols = ["task", "optimizer", "decay", "lr", "weight_decay", "variant", sel.metric,
                *[m for m in SUMMARY_METRICS if m in best and m != sel.metric],
                "trials", "diverged", "failed"]
        parts.append(best[[c for c in cols if c in best]])
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    if "variant" in out and not out["variant"].astype(bool).any():
        out = out.drop(columns="variant")
    return out
