"""The report's figures (seaborn/matplotlib, Agg backend), each saved as PNG and SVG.

Every plot draws pre-aggregated frames (means and seed ranges computed with pandas), never
raw per-trial series through seaborn's bootstrap: that keeps 1,000-trial reports fast."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display, no GUI toolkit

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.colors import Normalize  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from bench.report.data import Group  # noqa: E402

DPI = 110


@dataclass
class Figure:
    name: str  # file stem: <name>.png and <name>.svg
    title: str
    caption: str
    wide: bool = False  # spans the page width (the heatmap grid)

    @property
    def png(self) -> str:
        return f"plots/{self.name}.png"

    @property
    def svg(self) -> str:
        return f"plots/{self.name}.svg"


def setup() -> None:
    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.9)
    plt.rcParams.update({"svg.fonttype": "none", "figure.max_open_warning": 0})


def label(text: object) -> str:
    """Names from results are shown literally: '$' would switch matplotlib to mathtext."""
    return str(text).replace("$", r"\$")


def palette(names: list[str]) -> dict[str, tuple]:
    colors = sns.color_palette("tab10" if len(names) <= 10 else "husl", len(names))
    return dict(zip(sorted(names), colors))


def _save(fig: plt.Figure, out: Path, figure: Figure) -> Figure:
    (out / "plots").mkdir(parents=True, exist_ok=True)
    fig.savefig(out / figure.png, dpi=DPI)
    fig.savefig(out / figure.svg)
    plt.close(fig)
    return figure


# --- lr x weight-decay heatmaps -------------------------------------------------------------

def heatmaps(group: Group, cfg: pd.DataFrame, out: Path) -> list[Figure]:
    """Final validation metric over lr x λ per optimizer: directions in rows, decoupled left
    and coupled right (Loshchilov & Hutter's figure). One figure per settings variant."""
    sel = group.selection
    figures = []
    if sel.metric not in cfg or cfg.empty:
        return figures
    for v_index, (variant, frame) in enumerate(cfg.groupby("variant", sort=True)):
        usable = frame[sel.metric].where(frame["done"] == frame["n"])
        finite = usable.dropna()
        if finite.empty:
            vmin = vmax = None
        else:
            lo, hi = finite.min(), finite.quantile(0.9)
            vmin, vmax = (lo, max(hi, lo + 1e-12)) if sel.mode == "min" else \
                (finite.quantile(0.1), finite.max())
        layout = _panel_layout(frame)
        nrows, ncols = len(layout), max(len(r) for r in layout)
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows),
                                 squeeze=False)
        cmap = "viridis_r" if sel.mode == "min" else "viridis"
        for r, row in enumerate(layout):
            for c in range(ncols):
                ax = axes[r][c]
                if c >= len(row):
                    ax.set_visible(False)
                    continue
                opt = row[c]
                _heatmap_panel(ax, frame[frame["optimizer"] == opt], sel, vmin, vmax, cmap)
        fig.suptitle(label(f"{group.title}: final {sel.metric} "
                           f"({'lower' if sel.mode == 'min' else 'higher'} is better)"
                           + (f" · {variant}" if variant else "")), y=1.0)
        fig.tight_layout()
        name = f"heatmap-{group.slug}-{v_index}"
        caption = (f"Mean final {sel.metric} over finished seeds per (lr, λ); boxed: the "
                   "optimizer's best cell; 'div' / 'fail': some seed diverged or failed; "
                   "blank: not run (yet). Decoupled optimizers on the left, coupled on the right.")
        figures.append(_save(fig, out, Figure(name, "lr × λ: final validation metric",
                                              caption + (f" Settings: {variant}." if variant
                                                         else ""), wide=True)))
    return figures


def _panel_layout(frame: pd.DataFrame) -> list[list[str]]:
    """Rows = directions; within a row decoupled styles first, then coupled, then others."""
    order = {"decoupled": 0, "independent": 1, "coupled": 2}
    info = frame.groupby("optimizer")[["direction", "decay_style"]].first()
    rows: dict[str, list[str]] = {}
    for opt, r in info.iterrows():
        rows.setdefault(str(r["direction"]), []).append(opt)
    return [sorted(opts, key=lambda o: (order.get(info.loc[o, "decay_style"], 3), o))
            for _, opts in sorted(rows.items())]


def _heatmap_panel(ax: plt.Axes, frame: pd.DataFrame, sel, vmin, vmax, cmap: str) -> None:
    """imshow plus hand-placed labels: seaborn's heatmap draws the whole figure once just to
    pick label colours, which dominated the report's render time."""
    usable = frame.assign(value=frame[sel.metric].where(frame["done"] == frame["n"]),
                          state=np.where(frame["failed"] > 0, "fail",
                                         np.where(frame["diverged"] > 0, "div", "")))
    grid = usable.pivot_table(index="weight_decay", columns="lr", values="value",
                              aggfunc="first", dropna=False).sort_index(ascending=False)
    states = usable.pivot_table(index="weight_decay", columns="lr", values="state",
                                aggfunc="first").reindex_like(grid)
    values = grid.to_numpy(dtype=float)
    colormap = plt.get_cmap(cmap)
    finite_vals = values[np.isfinite(values)]
    lo = vmin if vmin is not None else (finite_vals.min() if finite_vals.size else 0.0)
    hi = vmax if vmax is not None else (finite_vals.max() if finite_vals.size else 1.0)
    norm = Normalize(lo, hi if hi > lo else lo + 1e-12)
    ax.set_facecolor("#eeeeee")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=colormap, norm=norm, aspect="auto")
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            state = states.iat[i, j] if states.size else ""
            if np.isfinite(v):
                r, g, b, _ = colormap(norm(v))
                ink = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=7, color=ink)
            elif isinstance(state, str) and state:
                ax.text(j, i, state, ha="center", va="center", fontsize=8, color="#b00020")
    if finite_vals.size:
        flat = np.where(np.isfinite(values), values, np.inf if sel.mode == "min" else -np.inf)
        i, j = np.unravel_index(flat.argmin() if sel.mode == "min" else flat.argmax(),
                                values.shape)
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", lw=2))
    ax.grid(False)
    ax.set_xticks(range(len(grid.columns)), [f"{v:.3g}" for v in grid.columns])
    ax.set_yticks(range(len(grid.index)), [f"{v:.3g}" for v in grid.index])
    ax.set_xlabel("lr")
    ax.set_ylabel("λ (weight_decay)")
    style = frame["decay_style"].iloc[0]
    ax.set_title(label(f"{frame['optimizer'].iloc[0]} ({style})"), fontsize=10)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.03)


# --- curves over training --------------------------------------------------------------------

def seed_bands(curves: pd.DataFrame, ids: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per (series, step): mean, min and max over seeds. `ids` maps trial id -> series."""
    if curves.empty or metric not in curves:
        return pd.DataFrame(columns=["series", "step", "mean", "low", "high"])
    joined = curves[["id", "step", metric]].merge(ids, on="id").dropna(subset=[metric])
    agg = joined.groupby(["series", "step"])[metric].agg(["mean", "min", "max"]).reset_index()
    return agg.rename(columns={"min": "low", "max": "high"})


def curve_plot(bands: pd.DataFrame, styles: dict[str, str], colors: dict[str, tuple], *,
               out: Path, figure: Figure, ylabel: str, log: bool = False,
               bound: float | None = None) -> Figure | None:
    if bands.empty:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for series, frame in bands.groupby("series", sort=True):
        if log:
            frame = frame[frame["mean"] > 0]
        color = colors.get(series, None)
        dashed = styles.get(series) == "coupled"
        ax.plot(frame["step"], frame["mean"], color=color, lw=1.8,
                ls="--" if dashed else "-", label=label(series))
        low, high = frame["low"], frame["high"]
        if log:
            low = low.clip(lower=frame["mean"].min() * 1e-3)
        ax.fill_between(frame["step"], low, high, color=color, alpha=0.18, lw=0)
    if bound is not None:
        ax.axhline(bound, color="black", lw=1.2, ls=":", label="bound 1 (box radius)")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return _save(fig, out, figure)


def per_layer(per_tensor: pd.DataFrame, ids: pd.DataFrame, colors: dict[str, tuple], *,
              out: Path, figure: Figure, max_tensors: int = 30) -> Figure | None:
    """Final linf_ratio per decayed tensor, mean over seeds, one bar per optimizer."""
    if per_tensor.empty or "linf_ratio" not in per_tensor:
        return None
    joined = per_tensor[["id", "tensor", "linf_ratio"]].merge(ids, on="id").dropna()
    if joined.empty:
        return None
    agg = joined.groupby(["series", "tensor"], sort=False)["linf_ratio"].mean().reset_index()
    tensors = list(dict.fromkeys(agg["tensor"]))[:max_tensors]
    agg = agg[agg["tensor"].isin(tensors)]
    agg["series"] = agg["series"].map(label)
    agg["tensor"] = agg["tensor"].map(label)
    height = 1.2 + 0.22 * len(tensors) * max(1, agg["series"].nunique()) ** 0.5
    fig, ax = plt.subplots(figsize=(7.5, min(height, 14)))
    sns.barplot(data=agg, y="tensor", x="linf_ratio", hue="series", ax=ax, errorbar=None,
                palette={label(k): v for k, v in colors.items()}, orient="h")
    ax.axvline(1.0, color="black", lw=1.2, ls=":", label="bound 1")
    ax.set_xlabel("final linf_ratio = ‖x‖∞ / r  (≤ 1: inside the box)")
    ax.set_ylabel("")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return _save(fig, out, figure)


# --- running many figures ----------------------------------------------------------------------

Job = tuple  # (callable, args tuple, kwargs dict)


def run_jobs(jobs: list[Job], workers: int | None = None) -> list:
    """Draw figures in worker processes (matplotlib is single-threaded; drawing and PNG/SVG
    encoding are CPU-bound). Results come back in job order."""
    import os

    workers = workers or min(4, os.cpu_count() or 1)
    if workers <= 1 or len(jobs) < 4:
        return [fn(*args, **kwargs) for fn, args, kwargs in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("fork")  # children inherit the imported libraries
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                             initializer=setup) as pool:
        futures = [pool.submit(fn, *args, **kwargs) for fn, args, kwargs in jobs]
        return [f.result() for f in futures]
