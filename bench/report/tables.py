"""The report's tables as pandas frames: leaderboard, constraint satisfaction, separability,
every configuration, failures. Raw values stay numeric (for CSV and sorting); formatting is
the renderer's job."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.report.data import Group
from bench.report.stats import mean_ci

CONFIG_KEYS = ["optimizer", "variant", "lr", "weight_decay"]
INSIDE_TOL = 1e-3  # linf_ratio <= 1 + INSIDE_TOL counts as inside the box (float round-off)
STATIONARY_TOL = 0.05  # l2_stationarity below this counts as an l2-stationary point
DECOUPLED_STYLES = ("decoupled", "independent")


@dataclass
class Column:
    key: str
    header: str
    help: str = ""
    kind: str = "num"  # num | int | text | ci (key, key_ci, key_n) | frac (key, key_of)
    link: str | None = None  # column holding the href for this cell
    tip: str | None = None  # column holding a tooltip for this cell


@dataclass
class Table:
    name: str  # file stem of its CSV
    title: str
    columns: list[Column]
    frame: pd.DataFrame
    note: str = ""
    empty: str = "No rows."
    notes: list[str] = field(default_factory=list)


def _constraint_lead_columns() -> list[Column]:
    """Who, which decay and which schedule: the first columns of both constraint tables."""
    return [Column("optimizer", "optimizer", "", "text", link="href"),
            Column("decay_style", "decay", "", "text"),
            Column("schedule", "schedule", "", "text"),
            Column("theorem", "theorem schedule?",
                   "Non-increasing learning rate with divergent sum (Xie & Li's condition)",
                   "text")]


def metric_names(group: Group) -> dict[str, str | None]:
    """Which recorded columns play which role in this group's tables."""
    t = group.trials
    present = {c for c in t.columns if t[c].notna().any()}
    sel = group.selection.metric
    headline = next((m for m in ("val_perplexity", "val_accuracy") if m in present and m != sel),
                    None)
    test = next((m for m in (sel.replace("val_", "test_", 1), "test_perplexity",
                             "test_accuracy", "test_loss") if m in present), None)
    return {"selection": sel, "headline": headline, "test": test}


# --- configurations ---------------------------------------------------------------------

def configs(group: Group) -> pd.DataFrame:
    """One row per configuration: status counts, seeds, means over finished seeds."""
    if "configs" not in group.cache:
        group.cache["configs"] = _configs(group)
    return group.cache["configs"].copy()


def _configs(group: Group) -> pd.DataFrame:
    t = group.trials
    keys = CONFIG_KEYS
    counts = (t.groupby(keys, dropna=False)["status"].value_counts().unstack(fill_value=0)
              .reindex(columns=["done", "diverged", "failed"], fill_value=0))
    counts["n"] = counts.sum(axis=1)
    done = t[t["status"] == "done"]
    numeric = [c for c in done.columns if c not in keys and pd.api.types.is_numeric_dtype(done[c])
               and c not in ("seed", "steps", "id")]
    means = done.groupby(keys, dropna=False)[numeric].mean()
    seeds = done.groupby(keys, dropna=False)["seed"].agg(lambda s: tuple(sorted(s)))
    info = [c for c in ("decay_style", "direction", "norm", "radius", "metric_radius",
                        "schedule_name", "schedule_theorem") if c in t]
    first = t.groupby(keys, dropna=False)[info].first()
    means = means.drop(columns=[c for c in first.columns if c in means.columns])
    out = counts.join(means).join(seeds.rename("seeds")).join(first)
    return out.reset_index()


def best_configs(group: Group) -> pd.DataFrame:
    """Each optimizer's configuration with the best mean validation metric over seeds.

    A configuration where any seed diverged or failed is not selectable (a result that holds
    for one seed only is not a setting to recommend), unless no configuration finished all
    its seeds; then the best partially finished one is used and flagged."""
    if "best" not in group.cache:
        group.cache["best"] = _best_configs(group)
    return group.cache["best"].copy()


def _best_configs(group: Group) -> pd.DataFrame:
    cfg = configs(group)
    sel = group.selection
    rows = []
    for _opt, frame in cfg.groupby("optimizer", sort=False):
        scored = frame[frame[sel.metric].notna()] if sel.metric in frame else frame.iloc[:0]
        complete = scored[scored["done"] == scored["n"]]
        pool, partial = (complete, False) if len(complete) else (scored, True)
        if len(pool):
            idx = pool[sel.metric].idxmin() if sel.mode == "min" else pool[sel.metric].idxmax()
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


def leaderboard(group: Group, slugs: dict[str, str]) -> Table:
    """One row per optimizer at its validation-selected configuration."""
    t = group.trials
    names = metric_names(group)
    sel = group.selection
    best = best_configs(group)
    done = t[t["status"] == "done"]
    rows = []
    per_seed: dict[str, pd.Series] = {}
    for _, b in best.iterrows():
        trials = done[(done["optimizer"] == b["optimizer"]) & (done["variant"] == b["variant"])
                      & (done["lr"] == b["lr"]) & (done["weight_decay"] == b["weight_decay"])]
        per_seed[b["optimizer"]] = trials.set_index("seed")[sel.metric] \
            if sel.metric in trials else pd.Series(dtype=float)
        row = {"optimizer": b["optimizer"], "href": f"optimizer-{slugs[b['optimizer']]}.html",
               "decay_style": b.get("decay_style"), "lr": b["lr"],
               "weight_decay": b["weight_decay"], "variant": b["variant"] or "",
               "schedule": b.get("schedule_name"),
               "seeds": ", ".join(str(int(s)) for s in sorted(trials["seed"])) or "—",
               "trials": b["opt_trials"], "diverged": b["opt_diverged"],
               "failed": b["opt_failed"], "partial": b["selected_partial"]}
        for role in ("selection", "headline", "test"):
            metric = names[role]
            if metric:
                ci = mean_ci(trials[metric]) if metric in trials else mean_ci([])
                row[metric], row[f"{metric}_ci"], row[f"{metric}_n"] = ci.mean, ci.half_width, ci.n
        for metric in ("train_loss", "dist_box", "dist_l2", "linf_ratio", "fw_gap_rel",
                       "boundary_frac", "l2_stationarity", "wall_s", "step_s", "tokens_per_s"):
            if metric in t and t[metric].notna().any():
                row[metric] = trials[metric].mean() if metric in trials else np.nan
        # The radius linf_ratio was measured against (1/λ as a reference for coupled decay).
        measured = b.get("metric_radius")
        row["radius"] = measured if measured is not None and pd.notna(measured) \
            else b.get("radius")
        if "val_loss" in trials and "train_loss" in trials:
            row["gap"] = (trials["val_loss"] - trials["train_loss"]).mean()
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
    cols = [Column("optimizer_label", "optimizer", "Click for the optimizer's page", "text",
                   link="href"),
            Column("decay_style", "decay", "Where weight decay enters (SPEC §2)", "text"),
            Column("lr", "lr", "Selected peak learning rate"),
            Column("weight_decay", "λ", "Selected weight decay (PyTorch convention)")]
    schedules = sorted({str(v) for v in frame.get("schedule", pd.Series(dtype=str)).dropna()})
    if len(schedules) > 1:
        cols.append(Column("schedule", "schedule", "Learning-rate schedule", "text"))
    elif schedules:
        notes.append(f"Learning-rate schedule: {schedules[0]} for every row.")
    if len(frame) and frame["variant"].astype(bool).any():
        cols.append(Column("variant", "other settings", "Config fields that vary", "text"))
    cols.append(Column("seeds", "seeds", "Seeds finished at the selected configuration", "text"))
    arrow = "↓" if sel.mode == "min" else "↑"
    cols.append(Column(sel.metric, f"{sel.metric} {arrow}",
                       f"Selection metric: mean ± 95% t-interval over seeds "
                       f"({'lower' if sel.mode == 'min' else 'higher'} is better)", "ci"))
    if names["headline"]:
        cols.append(Column(names["headline"], names["headline"], "Mean ± 95% interval", "ci"))
    if names["test"]:
        cols.append(Column(names["test"], names["test"],
                           "Test metric at the validation-selected configuration", "ci"))
    if len(frame) and "delta" in frame:
        cols.append(Column("delta", f"Δ {sel.metric} vs #1",
                           "Paired difference to the top row over common seeds, ± 95% interval",
                           "ci"))
    for key, header, text in (
            ("train_loss", "train_loss", "Final training loss"),
            ("gap", "gap", "Generalization gap: val_loss − train_loss"),
            ("dist_box", "dist_box", "Distance to the box optimum, relative to ‖c‖"),
            ("dist_l2", "dist_l2", "Distance to the ℓ2 optimum, relative to ‖c‖"),
            ("linf_ratio", "linf_ratio", "‖x‖∞ / r at the end (≤ 1: inside the box)"),
            ("radius", "r", "Radius linf_ratio is measured against: the box radius 1/λ "
                            "for decoupled decay, 1/λ as a reference for coupled decay"),
            ("fw_gap_rel", "fw_gap_rel", "Frank-Wolfe gap / (r‖g‖₁): 0 at a KKT point"),
            ("boundary_frac", "boundary_frac", "Share of coordinates within 1% of the radius"),
            ("l2_stationarity", "l2_stationarity", "‖g + λx‖ / (‖g‖ + λ‖x‖): 0 at the "
                                                   "coupled target"),
            ("diverged", "diverged", "Diverged trials of this optimizer (all configurations)"),
            ("failed", "failed", "Failed trials of this optimizer (all configurations)"),
            ("wall_s", "wall s", "Mean wall time of one trial at the selected configuration"),
            ("step_s", "s/step", "Mean time per training step"),
            ("tokens_per_s", "tokens/s", "Training throughput")):
        if key in frame:
            cols.append(Column(key, header, text, "int" if key in ("diverged", "failed",
                                                                   "trials") else "num"))
    return Table(f"leaderboard-{group.slug}", f"Leaderboard: {group.title}", cols, frame,
                 empty="No trial of this task has been recorded.", notes=notes)


def _paired(frame: pd.DataFrame, per_seed: dict[str, pd.Series], metric: str) -> list[str]:
    """Δ to the leader on the seeds both ran (same init and data order: paired)."""
    leader = frame["optimizer"].iloc[0]
    ref = per_seed.get(leader, pd.Series(dtype=float)).dropna()
    deltas, halves, ns = [], [], []
    for opt in frame["optimizer"]:
        mine = per_seed.get(opt, pd.Series(dtype=float)).dropna()
        common = ref.index.intersection(mine.index)
        if opt == leader or not len(common):
            deltas.append(np.nan)
            halves.append(np.nan)
            ns.append(0)
            continue
        ci = mean_ci((mine[common] - ref[common]).tolist())
        deltas.append(ci.mean)
        halves.append(ci.half_width)
        ns.append(ci.n)
    frame["delta"], frame["delta_ci"], frame["delta_n"] = deltas, halves, ns
    seed_sets = {tuple(sorted(s.dropna().index)) for s in per_seed.values() if len(s.dropna())}
    if len(seed_sets) == 1:
        seeds = ", ".join(str(int(s)) for s in next(iter(seed_sets)))
        return [f"Paired seeds: every optimizer's selected configuration ran seeds {seeds} "
                "(same initialization and data order), so Δ vs #1 is a paired difference."]
    return ["Seeds differ between optimizers (an unfinished sweep?): Δ vs #1 uses only the "
            "seeds both rows finished; intervals over different seeds are not paired."]


# --- constraint satisfaction --------------------------------------------------------------

def constraints(group: Group, slugs: dict[str, str]) -> Table:
    """Per optimizer, schedule and λ: inside the predicted box? (coupled: l2-stationary?)"""
    t = group.trials
    rows = []
    keys = ["optimizer", "variant", "weight_decay"]
    for (opt, variant, wd), frame in t.groupby(keys, sort=True, dropna=False):
        done = frame[frame["status"] == "done"]
        first = frame.iloc[0]
        style = first.get("decay_style")
        if style in (None, "none") or (isinstance(style, float) and math.isnan(style)):
            continue
        ratio = done["linf_ratio"].dropna() if "linf_ratio" in done else pd.Series(dtype=float)
        inside = int((ratio <= 1 + INSIDE_TOL).sum())
        row = {"optimizer": opt, "href": f"optimizer-{slugs[opt]}.html", "decay_style": style,
               "norm": first.get("norm"), "variant": variant,
               "schedule": first.get("schedule_name"),
               "theorem": _yes_no(first.get("schedule_theorem")), "weight_decay": wd,
               "radius": first.get("radius"), "done": len(done), "trials": len(frame),
               "inside": inside, "inside_of": len(ratio),
               "max_linf_ratio": ratio.max() if len(ratio) else np.nan}
        for metric in ("fw_gap_rel", "boundary_frac", "l2_stationarity"):
            row[metric] = done[metric].median() if metric in done else np.nan
        row["verdict"], row["agreement"] = verdict(row)
        if style not in DECOUPLED_STYLES:  # no box predicted: linf_ratio is for comparison
            row["inside"] = np.nan
        row["verdict_short"] = short_verdict(row)
        rows.append(row)
    frame = pd.DataFrame(rows)
    cols = [*_constraint_lead_columns(),
            Column("weight_decay", "λ"),
            Column("radius", "r", "Predicted box radius (1/λ); — for coupled decay"),
            Column("inside", "inside box", f"Finished trials with linf_ratio ≤ {1 + INSIDE_TOL}; "
                                           "— for coupled decay (no box predicted)", "frac"),
            Column("max_linf_ratio", "max linf_ratio", "Largest final ‖x‖∞ / r over lrs and seeds"),
            Column("fw_gap_rel", "fw_gap_rel (median)", "0 at a KKT point of the box problem"),
            Column("l2_stationarity", "l2_stationarity (median)",
                   "0 at a stationary point of the ℓ2-regularised loss"),
            Column("verdict_short", "verdict", "Against SPEC §1; hover for the full reading",
                   "text", tip="verdict")]
    if len(frame) and frame["variant"].astype(bool).any():
        cols.insert(3, Column("variant", "other settings", "", "text"))
    return Table(f"constraints-{group.slug}", f"Constraint satisfaction: {group.title}", cols,
                 frame, empty="No finished trial to check.",
                 note=(f"Each row pools every learning rate and seed at one λ. Inside means "
                       f"linf_ratio ≤ {1 + INSIDE_TOL}; ℓ2-stationary means l2_stationarity < "
                       f"{STATIONARY_TOL}. The theorem (SPEC §1) predicts the box only for "
                       "ℓ∞-steepest-descent directions (Adam, SignGD, Lion) with decoupled "
                       "decay, under a non-increasing schedule with divergent sum, and only "
                       "once training converges."))


def verdict(row: dict) -> tuple[str, str]:
    """(sentence, agreement) with agreement in agrees | disagrees | no-claim | no-data."""
    if not row["inside_of"]:
        return "no finished trial", "no-data"
    inside, n = row["inside"], row["inside_of"]
    observed = (f"all {n} inside the box" if inside == n else
                f"{n - inside} of {n} outside the box (max linf_ratio "
                f"{row['max_linf_ratio']:.3g})")
    if row["decay_style"] in DECOUPLED_STYLES:
        if row["radius"] is None or not np.isfinite(row["radius"] or np.nan):
            return "λ = 0: no box to check", "no-claim"
        if row["norm"] != "linf":
            return (f"ℓ∞-box theory does not cover a {row['norm']} direction; observed: "
                    f"{observed}", "no-claim")
        if row["theorem"] == "yes":
            if inside == n:
                return (f"agrees with theory: {observed} under {row['schedule']}, a schedule "
                        "meeting the theorem's conditions", "agrees")
            return (f"disagrees with theory: {observed} under {row['schedule']}, a schedule "
                    "meeting the theorem's conditions (not converged?)", "disagrees")
        return (f"theory makes no claim: {row['schedule']} is not a non-increasing schedule "
                f"with divergent sum; observed: {observed}", "no-claim")
    stat = row["l2_stationarity"]
    if stat is None or not np.isfinite(stat):
        return "coupled decay: no l2_stationarity recorded", "no-data"
    if stat < STATIONARY_TOL:
        return (f"agrees with theory: near a stationary point of loss + λ/2‖x‖² "
                f"(median {stat:.3g}); the box does not apply", "agrees")
    return (f"not (yet) at the coupled target: median l2_stationarity {stat:.3g} ≥ "
            f"{STATIONARY_TOL}", "disagrees")


def short_verdict(row: dict) -> str:
    agreement, sentence = row["agreement"], row["verdict"]
    coupled = row["decay_style"] not in DECOUPLED_STYLES
    if agreement == "agrees":
        return "✓ ℓ2-stationary" if coupled else "✓ inside the box"
    if agreement == "disagrees":
        return "✗ not ℓ2-stationary" if coupled else "✗ outside the box"
    if agreement == "no-data":
        return "no data"
    if sentence.startswith("λ = 0"):
        return "no box (λ = 0)"
    if "does not cover" in sentence:
        return f"no claim ({row['norm']}-norm direction)"
    return f"no claim ({row['schedule']} schedule)"


def constraint_summary(group: Group, detail: Table) -> Table:
    """The index's view: one row per optimizer and schedule, pooling its λ rows."""
    frame = detail.frame
    rows = []
    if len(frame):
        for (opt, variant), f in frame.groupby(["optimizer", "variant"], sort=True):
            first = f.iloc[0]
            counts = f["agreement"].value_counts()
            parts = []
            coupled = first["decay_style"] not in DECOUPLED_STYLES
            words = ({"agrees": "✓ ℓ2-stationary", "disagrees": "✗ not ℓ2-stationary"}
                     if coupled else
                     {"agrees": "✓ inside the box", "disagrees": "✗ outside the box"})
            for key, word in words.items():
                if counts.get(key):
                    lams = ", ".join(f"{w:.3g}" for w in f[f["agreement"] == key]["weight_decay"])
                    parts.append(f"{word} at λ = {lams}")
            if counts.get("no-claim"):
                short = f[f["agreement"] == "no-claim"]["verdict_short"].iloc[0]
                reason = short.removeprefix("no claim (").removesuffix(")")
                why = (f"{first['schedule']} is not a theorem schedule"
                       if reason.endswith(" schedule") else reason)
                parts.append(f"no claim at {counts['no-claim']} λ: {why}")
            if counts.get("no-data"):
                parts.append(f"no data at {counts['no-data']} λ")
            agreement = ("disagrees" if counts.get("disagrees") else
                         "agrees" if counts.get("agrees") else "no-claim")
            rows.append({"optimizer": opt, "href": first["href"], "variant": variant,
                         "decay_style": first["decay_style"], "schedule": first["schedule"],
                         "theorem": first["theorem"], "lams": len(f),
                         "inside": np.nan if coupled else int(f["inside"].sum()),
                         "inside_of": int(f["inside_of"].sum()),
                         "max_linf_ratio": f["max_linf_ratio"].max(),
                         "l2_stationarity": f["l2_stationarity"].median(),
                         "summary": "; ".join(parts) or "—", "agreement": agreement})
    table = pd.DataFrame(rows)
    cols = [*_constraint_lead_columns(),
            Column("lams", "λ values", "", "int"),
            Column("inside", "inside box", f"Finished trials with linf_ratio ≤ {1 + INSIDE_TOL}, "
                                           "all λ, lrs and seeds", "frac"),
            Column("max_linf_ratio", "max linf_ratio", ""),
            Column("l2_stationarity", "l2_stationarity (median)", ""),
            Column("summary", "verdict per λ", "Details per λ on the task's page", "text")]
    if len(table) and table["variant"].astype(bool).any():
        cols.insert(3, Column("variant", "other settings", "", "text"))
    note = detail.note.replace("Each row pools every learning rate and seed at one λ.",
                               "Each row pools every λ, learning rate and seed of one optimizer "
                               "(the verdict is given per λ).")
    return Table(f"constraint-summary-{group.slug}", "Constraint satisfaction (summary)", cols,
                 table, empty="No finished trial to check.", note=note)


def _yes_no(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    return "yes" if bool(value) else "no"


def agreement_counts(table: Table) -> dict[str, int]:
    if not len(table.frame):
        return {}
    return table.frame["agreement"].value_counts().to_dict()


# --- separability -------------------------------------------------------------------------

def separability(group: Group, slugs: dict[str, str]) -> Table:
    """SPEC §5: how far the best λ moves across lrs; share of the grid near the best."""
    cfg = configs(group)
    sel = group.selection
    rows = []
    for (opt, variant), frame in cfg.groupby(["optimizer", "variant"], sort=True):
        scores = frame.set_index(["lr", "weight_decay"])
        value = scores[sel.metric] if sel.metric in scores else pd.Series(np.nan, scores.index)
        # A cell counts only when every seed finished (a diverged seed makes it unusable).
        value = value.where(scores["done"] == scores["n"])
        grid = value.unstack("weight_decay")
        wds = sorted(grid.columns)
        best_wd = {}
        for lr, line in grid.iterrows():
            line = line.dropna()
            if len(line):
                best_wd[lr] = line.idxmin() if sel.mode == "min" else line.idxmax()
        idx = [wds.index(w) for w in best_wd.values()]
        positive = [w for w in best_wd.values() if w > 0]
        finite = value.dropna()
        best = (finite.min() if sel.mode == "min" else finite.max()) if len(finite) else np.nan
        row = {"optimizer": opt, "href": f"optimizer-{slugs[opt]}.html", "variant": variant,
               "decay_style": frame["decay_style"].iloc[0],
               "best_wd_by_lr": "; ".join(f"{lr:.3g}→{w:.3g}" for lr, w in best_wd.items()),
               "wd_shift_steps": (max(idx) - min(idx)) if idx else np.nan,
               "wd_shift_decades": (math.log10(max(positive) / min(positive))
                                    if len(positive) == len(best_wd) and positive else np.nan),
               "cells": len(finite), "cells_of": grid.size}
        for pct in (1, 5):
            if len(finite) and best != 0:
                rel = (finite - best) / abs(best) if sel.mode == "min" else \
                    (best - finite) / abs(best)
                row[f"within_{pct}"] = float((rel <= pct / 100 + 1e-12).sum()) / grid.size
            else:
                row[f"within_{pct}"] = np.nan
        rows.append(row)
    frame = pd.DataFrame(rows)
    cols = [Column("optimizer", "optimizer", "", "text", link="href"),
            Column("decay_style", "decay", "", "text"),
            Column("best_wd_by_lr", "best λ at each lr", "lr → λ with the best mean "
                                                         f"{sel.metric}", "text"),
            Column("wd_shift_steps", "best-λ shift (grid steps)",
                   "How many λ grid steps the best λ moves across lrs: 0 = separable"),
            Column("wd_shift_decades", "best-λ shift (decades)", "log10(max/min) of best λ"),
            Column("within_1", "grid within 1%", "Share of lr × λ cells within 1% of the best "
                                                 "(relative); diverged/missing cells count as "
                                                 "not within"),
            Column("within_5", "grid within 5%", "As above, 5%"),
            Column("cells", "cells usable", "Grid cells where every seed finished", "frac")]
    if len(frame) and frame["variant"].astype(bool).any():
        cols.insert(2, Column("variant", "other settings", "", "text"))
    if len(frame):
        frame["cells_of"] = frame["cells_of"].astype(int)
    return Table(f"separability-{group.slug}", f"Hyper-parameter separability: {group.title}",
                 cols, frame, empty="No finished configuration.",
                 note="Loshchilov & Hutter: with decoupled decay the best λ should stay put "
                      "as lr changes (shift 0) and a wide share of the grid should be near "
                      "the best.")


def for_optimizer(table: Table, optimizer: str, slug: str) -> Table:
    """The rows of one optimizer (its own page)."""
    frame = table.frame
    if len(frame):
        frame = frame[frame["optimizer"] == optimizer].reset_index(drop=True)
    return Table(f"{table.name}-{slug}", table.title, table.columns, frame, table.note,
                 table.empty, [])


# --- every configuration and the failures --------------------------------------------------

def all_configs(group: Group, slugs: dict[str, str], optimizer: str | None = None) -> Table:
    cfg = configs(group)
    if optimizer is not None:
        cfg = cfg[cfg["optimizer"] == optimizer]
    names = metric_names(group)
    cfg = cfg.copy()
    cfg["href"] = [f"optimizer-{slugs[o]}.html" for o in cfg["optimizer"]]
    cfg["seeds"] = cfg["seeds"].map(lambda s: ", ".join(str(int(x)) for x in s)
                                    if isinstance(s, tuple) else "—")
    cfg["done_of"] = cfg["n"]
    cols = [Column("optimizer", "optimizer", "", "text", link="href"),
            Column("lr", "lr"), Column("weight_decay", "λ")]
    if cfg["variant"].astype(bool).any():
        cols.append(Column("variant", "other settings", "", "text"))
    cols += [Column("done", "finished", "Finished trials of all recorded", "frac"),
             Column("diverged", "diverged", "", "int"), Column("failed", "failed", "", "int"),
             Column("seeds", "seeds finished", "", "text")]
    for metric in [names["selection"], names["headline"], names["test"], "train_loss",
                   "linf_ratio", "fw_gap_rel", "boundary_frac", "l2_stationarity",
                   "dist_box", "dist_l2"]:
        if metric and metric in cfg:
            cols.append(Column(metric, metric, "Mean over finished seeds"))
    sel = group.selection
    if sel.metric in cfg:
        cfg = cfg.sort_values(["optimizer", sel.metric], ascending=[True, sel.ascending],
                              na_position="last")
    name = f"configs-{group.slug}" + (f"-{slugs[optimizer]}" if optimizer else "")
    return Table(name, "Every configuration", cols, cfg.reset_index(drop=True),
                 empty="No trial recorded.")


def problems(group: Group, slugs: dict[str, str]) -> Table:
    """Diverged and failed trials: the gaps in the grid, with the reason."""
    t = group.trials
    bad = t[t["status"] != "done"].copy()
    bad["href"] = [f"optimizer-{slugs[o]}.html" for o in bad["optimizer"]]
    if "error" not in bad:
        bad["error"] = None
    bad["reason"] = [
        (f"non-finite loss at step {int(d)}" if s == "diverged" and pd.notna(d) else
         (str(e).strip().splitlines()[-1] if isinstance(e, str) and e.strip() else s))
        for s, d, e in zip(bad["status"], bad.get("diverged_at", pd.Series(index=bad.index)),
                           bad["error"])]
    cols = [Column("optimizer", "optimizer", "", "text", link="href"),
            Column("lr", "lr"), Column("weight_decay", "λ"), Column("seed", "seed", "", "int"),
            Column("status", "status", "", "text"), Column("reason", "reason", "", "text"),
            Column("id", "trial id", "File trials/<id>.json in the ledger", "text")]
    frame = bad.sort_values(["optimizer", "lr", "weight_decay", "seed"]).reset_index(drop=True)
    return Table(f"problems-{group.slug}", "Diverged and failed trials", cols,
                 frame[[c.key for c in cols] + ["href"]] if len(frame) else frame.iloc[:0],
                 empty="None: every recorded trial finished.")
