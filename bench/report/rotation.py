"""Rotational equilibrium's figure and table (Kosson et al., arXiv 2305.17212; measured by
bench/measures/rotation.py): per optimizer at its selected configuration, each decayed tensor's
weight
norm and angular update over training, one line per tensor; and the spread across tensors
at the end. Kosson et al.: AdamW brings every layer to one angular update, Adam + l2 not."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from bench.report.data import Group
from bench.report.plots import Figure, _save, label
from bench.report.tables import Column, Table, selected_trials

QUANTITIES = (("weight_norm", "weight norm ‖W‖_F"), ("angular_update", "angular update (rad)"))
COLUMNS = ("tau_iter", "tau_epoch", "angular_update_mean", "angular_update_cv",
           "weight_norm_cv")


def layer_frame(curves: pd.DataFrame, ids: pd.DataFrame) -> pd.DataFrame:
    """Long rows (series, step, tensor, weight_norm, angular_update) of one trial per series
    (its first id: one seed, so the lines are real trajectories, not means)."""
    rows = []
    if curves.empty or "rotation" not in curves or ids.empty:
        return pd.DataFrame(columns=["series", "step", "tensor", *dict(QUANTITIES)])
    first = ids.drop_duplicates("series")
    for _, pick in first.iterrows():
        points = curves[curves["id"] == pick["id"]].sort_values("step")
        for step, rot in zip(points["step"], points["rotation"]):
            if not isinstance(rot, dict):
                continue
            for tensor, norm in (rot.get("weight_norm") or {}).items():
                rows.append({"series": pick["series"], "step": step, "tensor": tensor,
                             "weight_norm": norm,
                             "angular_update": (rot.get("angular_update") or {}).get(tensor)})
    return pd.DataFrame(rows, columns=["series", "step", "tensor", *dict(QUANTITIES)])


def rotation_plot(layers: pd.DataFrame, out: Path, figure: Figure) -> Figure | None:
    if layers.empty:
        return None
    series = sorted(layers["series"].unique())
    height = 2.6 * len(series) + 0.4
    fig, axes = plt.subplots(len(series), 2, figsize=(9.5, height), squeeze=False)
    for r, name in enumerate(series):
        frame = layers[layers["series"] == name]
        tensors = list(dict.fromkeys(frame["tensor"]))
        colors = dict(zip(tensors, sns.color_palette("viridis", len(tensors))))
        for c, (key, ylabel) in enumerate(QUANTITIES):
            ax = axes[r][c]
            for tensor in tensors:
                line = frame[(frame["tensor"] == tensor) & frame[key].notna()]
                line = line[line[key] > 0] if key == "angular_update" else line
                ax.plot(line["step"], line[key], lw=1.2, color=colors[tensor],
                        label=label(tensor))
            if (frame[key] > 0).any():  # log: layers differ by orders of magnitude
                ax.set_yscale("log")
            ax.set_ylabel(ylabel)
            ax.set_title(label(f"{name}: {ylabel.split(' (')[0]}"), fontsize=9)
            ax.set_xlabel("step")
        if len(tensors) <= 8:
            axes[r][1].legend(fontsize=6.5, loc="center left", bbox_to_anchor=(1.01, 0.5),
                              frameon=False)
    legend = layers.groupby("series")["tensor"].nunique().max() <= 8
    fig.subplots_adjust(left=0.09, right=0.78 if legend else 0.97,
                        bottom=0.6 / height, top=1 - 0.35 / height, wspace=0.45, hspace=0.6)
    return _save(fig, out, figure)


def rotation_figure(group: Group) -> Figure:
    return Figure(f"rotation-{group.slug}", "Rotational equilibrium: weight norm and angular "
                  "update per layer",
                  "One row per optimizer at its selected (lr, λ), one seed; one line per "
                  "decayed tensor (colour: order in the model). Left: ‖W_t‖_F; right: the "
                  "angle between W_{t-1} and W_t; log axes; measured at evaluation points. "
                  "Kosson et al.: under AdamW every layer settles at one angular update, "
                  "under Adam + l2 they spread.", wide=True)


def equilibrium_table(group: Group, slugs: dict[str, str]) -> Table | None:
    """Timescale and rotation at each optimizer's selected configuration (seed means); None
    where the records carry neither (older records)."""
    t = group.trials
    if not any(k in t and t[k].notna().any() for k in COLUMNS):
        return None
    rows = []
    for b, sel in selected_trials(group):
        if sel.empty:
            continue
        row = {"optimizer": b["optimizer"], "href": f"optimizer-{slugs[b['optimizer']]}.html",
               "decay": b.get("decay"), "lr": b["lr"], "weight_decay": b["weight_decay"],
               "lr_wd": b["lr"] * b["weight_decay"]}
        row.update({k: sel[k].mean() for k in COLUMNS if k in sel and sel[k].notna().any()})
        rows.append(row)
    frame = pd.DataFrame(rows)
    cols = [Column("optimizer", link="href"), Column("decay"), Column("lr"),
            Column("weight_decay"), Column("lr_wd")]
    cols += [Column(k, "Mean over the selected configuration's seeds, at the end.")
             for k in COLUMNS if k in frame and frame[k].notna().any()]
    return Table(f"equilibrium-{group.slug}", f"EMA timescale and rotational equilibrium: "
                 f"{group.title}", cols, frame,
                 note="τ: Wang & Aitchison (arXiv 2405.13698); angular updates: Kosson et "
                      "al. (arXiv 2305.17212), who predict a spread near 0 across layers "
                      "for AdamW and not for Adam + l2.")
