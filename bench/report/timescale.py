"""The EMA timescale's figure (Wang & Aitchison, arXiv 2405.13698): the final validation
metric against τ_epoch = 1/(ηλ) / steps_per_epoch, one panel per optimizer, one line per lr.
Their claim: the best τ_epoch is nearly the same at every lr (the lines' minima line up)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.ticker import NullFormatter

from bench.report.data import Group
from bench.report.plots import Figure, _save, label


def lr_wd_configs(cfg: pd.DataFrame) -> pd.DataFrame:
    """The configurations with their η·λ (the second heatmap's rows)."""
    from bench.measures.separability import lr_wd

    return cfg.assign(lr_wd=lr_wd(cfg["lr"], cfg["weight_decay"])) if len(cfg) else cfg


def tau_frame(cfg: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Usable (optimizer, variant, lr, tau_epoch, metric) rows: every seed finished and the
    decay style has a timescale."""
    if cfg.empty or metric not in cfg or "tau_epoch" not in cfg:
        return pd.DataFrame(columns=["optimizer", "variant", "lr", "tau_epoch", metric])
    usable = cfg[(cfg["done"] == cfg["n"]) & cfg["tau_epoch"].notna() & cfg[metric].notna()]
    return usable[["optimizer", "variant", "lr", "tau_epoch", metric]].sort_values(
        ["optimizer", "variant", "lr", "tau_epoch"]).reset_index(drop=True)


def tau_plot(group: Group, cfg: pd.DataFrame, out: Path) -> Figure | None:
    sel = group.selection
    frame = tau_frame(cfg, sel.metric)
    if frame.empty:
        return None
    panels = list(frame.groupby(["optimizer", "variant"], sort=True))
    ncols = min(4, len(panels))
    nrows = -(-len(panels) // ncols)
    width, height = 3.7 * ncols + 0.8, 3.0 * nrows + 0.4
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False,
                             sharey=True)
    for ax, ((opt, variant), f) in zip(axes.flat, panels):
        lrs = sorted(f["lr"].unique())
        colors = dict(zip(lrs, sns.color_palette("viridis", len(lrs))))
        for lr, line in f.groupby("lr", sort=True):
            ax.plot(line["tau_epoch"], line[sel.metric], marker="o", ms=3.5, lw=1.5,
                    color=colors[lr], label=f"lr = {lr:.3g}")
            best = line[sel.metric].idxmin() if sel.mode == "min" else line[sel.metric].idxmax()
            ax.plot(line.at[best, "tau_epoch"], line.at[best, sel.metric], marker="*", ms=10,
                    color=colors[lr], mec="black", mew=0.6)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # crowded labels between decades
        ax.set_xlabel("τ_epoch (epochs)")
        ax.set_title(label(opt + (f" · {variant}" if variant else "")), fontsize=9)
        ax.legend(fontsize=6.5, frameon=True)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(sel.metric)
    # Margins in inches, so one panel and twelve both keep their labels.
    fig.subplots_adjust(left=0.85 / width, right=1 - 0.15 / width, bottom=0.6 / height,
                        top=1 - 0.35 / height, wspace=0.08, hspace=0.55)
    return _save(fig, out, Figure(
        f"tau-{group.slug}", "Validation metric against the EMA timescale τ_epoch",
        f"Mean final {sel.metric} over finished seeds against τ_epoch = 1/(ηλ) / "
        "steps_per_epoch (log axis), one line per lr, star: the lr's best. Optimizers whose "
        "decay has no EMA timescale (coupled, cautious, none) or λ = 0 are left out. Wang & "
        "Aitchison: the best τ_epoch should be about the same at every lr.", wide=True))
