"""The report's figures (seaborn/matplotlib, Agg backend), each saved as PNG and SVG.

Every plot draws pre-aggregated frames (means and seed ranges computed with pandas), never
raw per-trial series through seaborn's bootstrap: that keeps 1,000-trial reports fast."""

from __future__ import annotations

import textwrap
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

Y_AXES = {"weight_decay": ("λ (weight_decay)", "heatmap", "lr × λ"),
          "lr_wd": ("η·λ (lr_wd)", "lrwd", "lr × η·λ")}


def heatmaps(group: Group, cfg: pd.DataFrame, out: Path,
             y: str = "weight_decay") -> list[Figure]:
    """Final validation metric over lr x λ (or lr x η·λ: y='lr_wd') per optimizer: directions
    in rows, decoupled left and coupled right (Loshchilov & Hutter's figure). One figure per
    settings variant."""
    sel = group.selection
    figures = []
    if sel.metric not in cfg or cfg.empty or y not in cfg:
        return figures
    ylabel, stem, axes_name = Y_AXES[y]
    cmap = "viridis_r" if sel.mode == "min" else "viridis"
    for v_index, (variant, frame) in enumerate(cfg.groupby("variant", sort=True)):
        finite = frame[sel.metric].where(frame["done"] == frame["n"]).dropna()
        # One colour scale for every panel, clipped at the 90th percentile so one exploding
        # configuration does not wash out the rest.
        if finite.empty:
            vmin, vmax = 0.0, 1.0
        elif sel.mode == "min":
            vmin, vmax = finite.min(), finite.quantile(0.9)
        else:
            vmin, vmax = finite.quantile(0.1), finite.max()
        vmax = max(vmax, vmin + 1e-12)
        layout = _panel_layout(frame)
        nrows, ncols = len(layout), len(layout[0])
        width, height = 3.3 * ncols + 1.2, 2.9 * nrows + 0.6
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)
        image = None
        for r, row in enumerate(layout):
            for c, opt in enumerate(row):
                if opt is None:
                    axes[r][c].set_visible(False)
                    continue
                image = _heatmap_panel(axes[r][c], frame[frame["optimizer"] == opt], sel,
                                       vmin, vmax, cmap, y, ylabel)
        # Fixed margins and one shared colour bar: tight_layout and a bar per panel cost
        # more than the rest of the figure.
        # The title wraps to the figure's width (a one-panel figure is narrow), its lines
        # pushing the panels down.
        title = textwrap.wrap(label(f"{group.title}: final {sel.metric}"
                                    + (f" · {variant}" if variant else "")),
                              width=max(30, int(width * 11)))
        fig.subplots_adjust(left=0.9 / width, right=1 - 1.2 / width, bottom=0.55 / height,
                            top=1 - (0.45 + 0.2 * len(title)) / height, wspace=0.38,
                            hspace=0.5)
        if image is not None and not finite.empty:
            cax = fig.add_axes((1 - 0.95 / width, 0.55 / height, 0.12 / width,
                                1 - 1.2 / height))
            fig.colorbar(image, cax=cax, label=f"{sel.metric} "
                         f"({'lower' if sel.mode == 'min' else 'higher'} is better)")
        fig.suptitle("\n".join(title), fontsize=10)
        name = f"{stem}-{group.slug}-{v_index}"
        caption = (f"Mean final {sel.metric} over finished seeds per (lr, {ylabel.split()[0]}); "
                   "red box: the "
                   "optimizer's best cell; 'div' / 'fail': some seed diverged or failed; "
                   "grey: not run (yet). Decoupled decay on the left, coupled on the right, "
                   "one row per update direction. A best cell that stays in one row as lr "
                   "changes means lr and λ separate.")
        if y == "lr_wd":
            caption += (" Rows are η·λ: the EMA timescale 1/(ηλ) (Wang & Aitchison); a best "
                        "cell in one row across lrs means the timescale transfers.")
        figures.append(_save(fig, out, Figure(name, f"{axes_name}: final validation metric",
                                              caption + (f" Settings: {variant}." if variant
                                                         else ""), wide=True)))
    return figures


def _panel_layout(frame: pd.DataFrame) -> list[list[str | None]]:
    """Rows = directions; coupled decay in the right columns, every other style (decoupled,
    independent, ...) in the left ones; None = an empty slot."""
    info = frame.groupby("optimizer")[["direction", "decay"]].first()
    rows: dict[str, tuple[list[str], list[str]]] = {}
    for opt, r in info.iterrows():
        left, right = rows.setdefault(str(r["direction"]), ([], []))
        (right if r["decay"] == "coupled" else left).append(opt)
    n_left = max(len(lr[0]) for lr in rows.values())
    n_right = max(len(lr[1]) for lr in rows.values())
    return [sorted(left) + [None] * (n_left - len(left)) + sorted(right)
            + [None] * (n_right - len(right)) for _, (left, right) in sorted(rows.items())]


def _heatmap_panel(ax: plt.Axes, frame: pd.DataFrame, sel, vmin, vmax, cmap: str,
                   y: str = "weight_decay", ylabel: str = "λ (weight_decay)"):
    """imshow plus hand-placed labels: seaborn's heatmap draws the whole figure once just to
    pick label colours, which dominated the report's render time."""
    usable = frame.assign(value=frame[sel.metric].where(frame["done"] == frame["n"]),
                          state=np.where(frame["failed"] > 0, "fail",
                                         np.where(frame["diverged"] > 0, "div", "")))
    grid = usable.pivot_table(index=y, columns="lr", values="value",
                              aggfunc="first", dropna=False).sort_index(ascending=False)
    states = usable.pivot_table(index=y, columns="lr", values="state",
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
    ax.set_ylabel(ylabel)
    style = frame["decay"].iloc[0]
    ax.set_title(label(f"{frame['optimizer'].iloc[0]} ({style})"), fontsize=10)
    return image


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
    _draw_bands(ax, bands, styles, colors, log=log, bound=bound)
    ax.set_ylabel(ylabel)
    # Long names ('adamw · betas=[0.9,0.999]') in a smaller font: the margin is fixed.
    longest = max(len(str(s)) for s in bands["series"].unique())
    ax.legend(fontsize=8 if longest <= 22 else 6.5, loc="center left",
              bbox_to_anchor=(1.01, 0.5), frameon=False)
    # Fixed margins instead of tight_layout: one draw fewer per figure.
    fig.subplots_adjust(left=0.14, right=0.74, bottom=0.13, top=0.96)
    return _save(fig, out, figure)


def panels_plot(panels: dict[str, tuple[pd.DataFrame, str]], *, out: Path, figure: Figure,
                ylabel: str, bound: float | None = None, ncols: int = 4) -> Figure | None:
    """Small multiples: one panel per optimizer (title -> (bands, subtitle)), shared y, the
    series of each panel coloured by rank (e.g. λ from small to large)."""
    panels = {k: v for k, v in panels.items() if not v[0].empty}
    if not panels:
        return None
    ncols = min(ncols, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.7 * ncols, 3.0 * nrows),
                             squeeze=False, sharey=True)
    for ax, (title, (bands, subtitle)) in zip(axes.flat, sorted(panels.items())):
        series = sorted(bands["series"].unique(), key=_series_order)
        colors = dict(zip(series, sns.color_palette("viridis", len(series))))
        _draw_bands(ax, bands, {}, colors, bound=bound)
        ax.set_title(label(f"{title}  ({subtitle})"), fontsize=9)
        ax.legend(fontsize=6.5, loc="lower right", frameon=True)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.12 / nrows ** 0.5, top=1 - 0.1 / nrows,
                        wspace=0.08, hspace=0.5)
    return _save(fig, out, figure)


def _series_order(name: str) -> tuple:
    """'λ = 0.03' sorts by its number; anything else by name."""
    try:
        return (0, float(name.rsplit("=", 1)[-1]))
    except ValueError:
        return (1, name)


def _draw_bands(ax: plt.Axes, bands: pd.DataFrame, styles: dict[str, str],
                colors: dict[str, tuple], *, log: bool = False,
                bound: float | None = None) -> None:
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


class Painter:
    """Draws figures in worker processes while the caller goes on building tables
    (matplotlib is single-threaded; drawing and PNG/SVG encoding are CPU-bound).
    `submit` returns a handle whose `result()` is the job's return value."""

    def __init__(self, workers: int | None = None) -> None:
        import os

        self.workers = workers or min(4, os.cpu_count() or 1)
        self.pool = None
        if self.workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # fork: the children inherit the imported libraries instead of re-importing them
            self.pool = ProcessPoolExecutor(max_workers=self.workers,
                                            mp_context=multiprocessing.get_context("fork"),
                                            initializer=setup)

    def submit(self, job: Job):
        fn, args, kwargs = job
        if self.pool is None:
            return _Done(fn(*args, **kwargs))
        return self.pool.submit(fn, *args, **kwargs)

    def __enter__(self) -> Painter:
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=exc[0] is not None)


class _Done:
    def __init__(self, value) -> None:
        self.value = value

    def result(self):
        return self.value
