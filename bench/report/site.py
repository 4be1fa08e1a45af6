"""Assemble the report: the claims' verdicts (verdicts.json), tables and figures per group,
then HTML pages (or Markdown) + CSV."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench import __version__
from bench.report import (
    cells,
    claim_figures,
    claim_scope,
    claim_verdicts,
    claims_table,
    constraints,
    geometries,
    leaderboard,
    listings,
    plots,
    profiles,
    rotation,
    separability,
    series,
    tables,
    timescale,
)
from bench.report.claim_verdicts import Judged
from bench.report.data import Group, ReportData, load, slugify
from bench.report.plots import Figure

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class Section:
    """Everything the report says about one (task, budget, data fingerprint)."""

    group: Group
    leaderboard: tables.Table
    constraints: tables.Table
    constraint_summary: tables.Table
    separability: tables.Table
    configs: tables.Table
    problems: tables.Table
    coverage: str
    summary: str
    provenance: list[tuple[str, str]]
    figures: list[Figure] = field(default_factory=list)
    best: pd.DataFrame | None = None
    geometries: tables.Table | None = None
    equilibrium: tables.Table | None = None  # EMA timescale and rotation (report/rotation.py)
    claims: list[Judged] = field(default_factory=list)  # the claims' verdicts on this group
    claim_figures: dict[str, Figure | None] = field(default_factory=dict)  # anchor -> figure

    @property
    def headline(self) -> list[Figure]:
        """The figures the index leads with: the lr × λ heatmaps, or linf_ratio over training
        where the task says the constraint is its point; the other kind if that one is
        missing."""
        t = self.group.trials
        kinds = t["headline_figure"].dropna() if "headline_figure" in t else pd.Series()
        kind = str(kinds.iloc[0]) if len(kinds) else "heatmaps"
        prefixes = {"heatmaps": f"heatmap-{self.group.slug}", "linf": f"linf-{self.group.slug}"}
        order = [kind] + [k for k in prefixes if k != kind]
        for k in order:
            found = [f for f in self.figures if f.name.startswith(prefixes.get(k, "?"))]
            if found:
                return found
        return []


def build(dirs: list[str], out: Path, fmt: str = "html", figures: bool = True) -> Path:
    """Write the report under `out`; returns the page to open (index.html or report.md).
    figures=False leaves the figures out of the HTML pages (tables and CSV only: quicker)."""
    data = load(dirs)
    out.mkdir(parents=True, exist_ok=True)
    _clear(out)
    optimizers = sorted(data.trials["optimizer"].unique()) if len(data.trials) else []
    slugs = {o: slugify(o) for o in optimizers}
    profile = profiles.profile_table(data.groups)
    # A claim that a claims.json here lists is judged on the trials it lists (claim_scope.py).
    judged = claim_verdicts.judge(data, listed=claim_scope.listed([*dirs, *data.sources]))
    figures = figures and fmt == "html"  # the Markdown page has none
    claim_verdicts.write(out, judged, figures=figures)
    claims = claims_table.claims_table(judged)
    headline = (claims_table.headline(judged),
                claims_table.headline_detail(judged, claim_verdicts.untested(judged)))
    if figures:
        sections, profile_figure = _sections_with_figures(data, out, slugs, judged, optimizers)
    else:
        sections, profile_figure = [_section(g, data, slugs, judged) for g in data.groups], None
    csv = _write_csvs(sections, out)
    csv[claims.name] = cells.write_csv(claims, out)
    if profile is not None:
        csv[profile.name] = cells.write_csv(profile, out)
    if fmt == "md":
        path = out / "report.md"
        path.write_text(_markdown(sections, data, csv, profile, claims, headline))
        return path
    env = _env()
    common = {"generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "version": __version__, "sources": data.sources, "slugs": slugs,
              "csv": csv, "optimizers": optimizers, "sections": sections,
              "rows": cells.rows, "figures_drawn": figures}
    _write(env, "index.html.j2", out / "index.html", common,
           provenance=_provenance(data.trials, data.sources), n_trials=len(data.trials),
           profile=profile, profile_figure=profile_figure, claims=claims,
           claims_headline=headline[0], claims_detail=headline[1],
           verdicts_file=claim_verdicts.FILE)
    for s in sections:
        _write(env, "group.html.j2", out / f"group-{s.group.slug}.html", common, s=s)
    for opt in optimizers:
        # An optimizer's page shows its configurations and its group pages' wide figures
        # (the lr x λ heatmaps and the per-λ linf_ratio panels), which include it.
        parts = [{"s": s, "standing": _standing(s, opt),
                  "board": tables.for_optimizer(s.leaderboard, opt, slugs[opt]),
                  "constraints": tables.for_optimizer(s.constraints, opt, slugs[opt]),
                  "configs": listings.all_configs(s.group, slugs, opt),
                  "figures": [f for f in s.figures if f.wide]}
                 for s in sections if opt in set(s.group.trials["optimizer"])]
        for p in parts:
            for key in ("board", "constraints", "configs"):
                csv[p[key].name] = cells.write_csv(p[key], out)
        trials = data.trials[data.trials["optimizer"] == opt]
        _write(env, "optimizer.html.j2", out / f"optimizer-{slugs[opt]}.html", common, opt=opt,
               parts=parts, info=_optimizer_info(trials),
               provenance=_provenance(trials, data.sources))
    return out / "index.html"


def _sections_with_figures(data: ReportData, out: Path, slugs: dict[str, str],
                           judged: list[Judged], optimizers: list[str]
                           ) -> tuple[list[Section], Figure | None]:
    """Every group's section with its figures, drawn in worker processes while the next
    group's tables are built; also the performance profile's figure."""
    plots.setup()
    colors = plots.palette(optimizers)
    sections, pending, claim_pending = [], [], []
    with plots.Painter() as painter:
        profile_figure = painter.submit((profiles.profile_plot, (
            profiles.task_times(data.groups), colors), {"out": out,
                                                        "figure": profiles.PROFILE_FIGURE}))
        for g in data.groups:
            s = _section(g, data, slugs, judged)
            sections.append(s)
            jobs = _group_figure_jobs(s, data, out, colors) + [_lambda_figure_job(s, data, out)]
            pending.append([painter.submit(job) for job in jobs])
            claim_pending.append({j.anchor: painter.submit(claim_figures.figure_job(j, out))
                                  for j in s.claims if j.drawn})
        for s, handles, claim_handles in zip(sections, pending, claim_pending):
            for handle in handles:
                result = handle.result()
                s.figures += result if isinstance(result, list) else [result] if result else []
            s.claim_figures = {anchor: h.result() for anchor, h in claim_handles.items()}
        return sections, profile_figure.result()


def _clear(out: Path) -> None:
    """Remove what an earlier build wrote (only names this module writes), so pages, plots
    and tables of optimizers or groups that are gone do not linger."""
    for pattern in ("index.html", "group-*.html", "optimizer-*.html", "report.md",
                    claim_verdicts.FILE, "plots/*.png", "plots/*.svg", "tables/*.csv"):
        for path in out.glob(pattern):
            path.unlink()


def _write_csvs(sections: list[Section], out: Path) -> dict[str, str]:
    return {t.name: cells.write_csv(t, out) for s in sections
            for t in (s.leaderboard, s.constraints, s.constraint_summary, s.separability,
                      s.configs, s.problems, s.geometries, s.equilibrium) if t is not None}


# --- one group ---------------------------------------------------------------------------------

def _section(group: Group, data: ReportData, slugs: dict[str, str],
             judged: list[Judged]) -> Section:
    mine = claim_verdicts.of_group(judged, group)
    board = leaderboard.leaderboard(group, slugs)
    cons = constraints.constraints(group, slugs, mine)
    t = group.trials
    counts = t["status"].value_counts()
    return Section(group=group, leaderboard=board, constraints=cons,
                   constraint_summary=constraints.constraint_summary(group, cons),
                   separability=separability.separability(group, slugs),
                   configs=listings.all_configs(group, slugs),
                   problems=listings.problems(group, slugs),
                   coverage=_coverage(t, counts, group.stale),
                   summary=_summary(group, board, mine),
                   provenance=_provenance(t, data.sources), best=tables.best_configs(group),
                   geometries=geometries.geometry_table(group, slugs),
                   equilibrium=rotation.equilibrium_table(group, slugs), claims=mine)


def _coverage(t: pd.DataFrame, counts: pd.Series, stale: int = 0) -> str:
    n = len(t)
    text = (f"{n} trials recorded: {counts.get('done', 0)} finished, "
            f"{counts.get('diverged', 0)} diverged, {counts.get('failed', 0)} failed.")
    if stale:
        text += (f" {stale} stale records (made by older code: another code_fingerprint) "
                 "were left out.")
    expected = 0
    seeds = t["seed"].nunique()
    for _, f in t.groupby(["optimizer", "variant"]):
        # A τ grid's λ differs per lr: its cells are lr × τ.
        axis = "tau" if "tau" in f and f["tau"].notna().all() else "weight_decay"
        expected += f["lr"].nunique() * f[axis].nunique() * seeds
    recorded = len(t.drop_duplicates(["optimizer", "variant", "lr", "weight_decay", "seed"]))
    if expected > recorded:
        text += (f" The recorded grid implies {expected} (optimizer, lr, λ, seed) cells: "
                 f"{expected - recorded} are missing (an unfinished or interrupted sweep?) "
                 "and show as blanks.")
    return text


def _summary(group: Group, board: tables.Table, judged: list[Judged]) -> str:
    sel = group.selection
    frame = board.frame
    parts = []
    if len(frame) and pd.notna(frame[sel.metric].iloc[0]):
        top = frame.iloc[0]
        parts.append(f"Best on {sel.metric}: {top['optimizer']} ({top['decay']}) at "
                     f"lr {top['lr']:.3g}, λ {top['weight_decay']:.3g}: "
                     f"{cells.fmt_num(top[sel.metric])}.")
    else:
        parts.append("No optimizer finished a trial here yet.")
    parts.append(claims_table.group_headline(judged))
    return " ".join(parts)


def _standing(s: Section, opt: str) -> str:
    """'Rank 2 of 4 on val_loss: …' for an optimizer's page."""
    board = s.leaderboard.frame
    sel = s.group.selection.metric
    if not len(board) or opt not in set(board["optimizer"]):
        return "No trial recorded here."
    rank = list(board["optimizer"]).index(opt)
    row = board.iloc[rank]
    if pd.isna(row[sel]):
        return f"No finished configuration ({int(row['diverged'])} diverged, " \
               f"{int(row['failed'])} failed)."
    half = row.get(f"{sel}_ci")
    value = cells.fmt_num(row[sel]) + (f" ± {cells.fmt_num(half, 2)}" if pd.notna(half) else "")
    ranked = int(board[sel].notna().sum())
    return (f"Rank {rank + 1} of {ranked} on {sel} ({value}) at lr {row['lr']:.3g}, "
            f"λ {row['weight_decay']:.3g}; seeds {row['seeds']}.")


def _group_figure_jobs(s: Section, data: ReportData, out: Path,
                       colors: dict) -> list[plots.Job]:
    g = s.group
    jobs: list[plots.Job] = [(plots.heatmaps, (g, tables.configs(g), out), {})]
    ids, styles, colors = series.curve_series(g, s.best, colors)
    curves = data.curves[data.curves["id"].isin(ids["id"])] if len(data.curves) else data.curves
    sel = g.selection.metric
    specs = [
        ("linf", "linf_ratio", "linf_ratio over training", "linf_ratio = ‖x‖∞ / r", False, 1.0,
         "Each optimizer at its selected (lr, λ), each variant of an optimizer's settings at "
         "its own; line: mean over seeds, band: min–max. Dotted: "
         "the bound 1 (the box of radius r). Dashed lines: coupled decay, measured against "
         "1/λ for comparison only."),
        ("kkt", "kkt_residual", "kkt_residual over training (log)", "kkt_residual", True, None,
         "Frank-Wolfe gap of the box problem over its value at step 0: 1 at the start, 0 at "
         "every KKT point of min L s.t. ‖x‖∞ ≤ r, interior ones included (SPEC §3). Log scale: "
         "non-positive values (x outside the box) are not drawn."),
        ("val", sel, f"{sel} over training", sel, False, None,
         "Validation curve of each optimizer's selected configuration; band: min–max over "
         "seeds."),
    ]
    for key, metric, title, ylabel, log, bound, caption in specs:
        bands = plots.seed_bands(curves, ids, metric)
        jobs.append((plots.curve_plot, (bands, styles, colors),
                     {"out": out, "figure": Figure(f"{key}-{g.slug}", title, caption),
                      "ylabel": ylabel, "log": log, "bound": bound}))
    cfg = tables.configs(g)
    jobs += [(plots.heatmaps, (g, timescale.lr_wd_configs(cfg), out), {"y": "lr_wd"}),
             (timescale.tau_plot, (g, cfg, out), {}),
             (rotation.rotation_plot, (rotation.layer_frame(curves, ids), out,
                                       rotation.rotation_figure(g)), {})]
    per_tensor = data.per_tensor[data.per_tensor["id"].isin(ids["id"])] \
        if len(data.per_tensor) else data.per_tensor
    jobs.append((plots.per_layer, (per_tensor, ids, colors), {"out": out, "figure": Figure(
        f"layers-{g.slug}", "Per-layer linf_ratio at the end",
        "Final ‖x‖∞ / r of each decayed tensor at each optimizer's selected configuration, "
        "mean over seeds (first 30 tensors). Dotted: the bound 1.")}))
    return jobs


def _lambda_figure_job(s: Section, data: ReportData, out: Path) -> plots.Job:
    """linf_ratio over training for each λ at each optimizer's selected lr (one panel each)."""
    panels = {}
    best = s.best if s.best is not None else pd.DataFrame(columns=["optimizer", "lr"])
    for _, row in best.iterrows():
        if pd.isna(row["lr"]):
            continue
        t = s.group.trials
        t = t[(t["optimizer"] == row["optimizer"]) & (t["variant"] == row["variant"])
              & (t["lr"] == row["lr"])]
        ids = pd.DataFrame({"id": t["id"], "series": [f"λ = {w:.3g}" for w in t["weight_decay"]]})
        curves = data.curves[data.curves["id"].isin(ids["id"])] if len(data.curves) else \
            data.curves
        panels[row["optimizer"]] = (plots.seed_bands(curves, ids, "linf_ratio"),
                                    f"{row['decay']}, lr {row['lr']:.3g}")
    figure = Figure(f"lambdas-{s.group.slug}", "linf_ratio over training for each λ",
                    "One panel per optimizer at its selected lr; a line per λ (mean over seeds, "
                    "band: min–max); dotted: the bound 1. A larger λ means a smaller box "
                    "(r = 1/λ for decoupled decay); coupled panels are measured against 1/λ "
                    "for comparison only.", wide=True)
    return (plots.panels_plot, (panels,), {"out": out, "figure": figure,
                                           "ylabel": "linf_ratio", "bound": 1.0})


# --- provenance ----------------------------------------------------------------------------------

def _provenance(t: pd.DataFrame, sources: list[str]) -> list[tuple[str, str]]:
    """What produced these trials. Several data sets or budgets on a page that covers several
    groups are expected; several code revisions or library versions are flagged."""
    def values(col: str, flag: bool = True, empty: str = "not recorded") -> str:
        found = sorted({str(v) for v in t[col].dropna().unique()}) if col in t else []
        if not found:
            return empty
        mixed = flag and len(found) > 1
        return ", ".join(found) + (" (mixed: results from different setups)" if mixed else "")

    dates = t["env_date"].dropna().astype(str) if "env_date" in t else pd.Series(dtype=str)
    return [("data source", values("data_source", flag=False)),
            ("data fingerprint", values("data_fingerprint", flag=False)),
            ("budget", values("budget", flag=False)),
            ("code revision", values("env_git_rev")),
            ("wdbench", values("env_wdbench")),
            ("torch", values("env_torch")),
            ("CUDA", values("env_cuda", empty="none") if "env_cuda" in t else "not recorded"),
            ("python", values("env_python")),
            ("device", values("env_device")),
            ("processes", values("env_num_processes")),
            ("run dates", f"{dates.min()} … {dates.max()}" if len(dates) else "not recorded"),
            ("results", ", ".join(sources))]


def _optimizer_info(t: pd.DataFrame) -> list[tuple[str, str]]:
    out = []
    for col, name in (("decay", "decay style"), ("direction", "direction"),
                      ("norm", "steepest-descent norm"), ("mask", "decay mask")):
        if col in t:
            vals = sorted({str(v) for v in t[col].dropna()})
            out.append((name, ", ".join(vals) or "not recorded"))
    return out


# --- output ---------------------------------------------------------------------------------

def _env():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["tojson_safe"] = lambda v: json.dumps(v)
    return env


def _write(env, template: str, path: Path, common: dict, **context) -> None:
    path.write_text(env.get_template(template).render(**common, **context))


def _markdown(sections: list[Section], data: ReportData, csv: dict[str, str],
              profile: tables.Table | None, claims: tables.Table,
              headline: tuple[str, str]) -> str:
    lines = ["# wdbench results", "", "## Claims", "", f"**{cells.md_escape(headline[0])}** "
             + cells.md_escape(headline[1]), "",
             cells.markdown(claims), *map(cells.md_escape, claims.notes),
             cells.md_escape(claims.note), "",
             f"CSV: `{csv[claims.name]}`; every configuration's verdict: "
             f"`{claim_verdicts.FILE}`", ""]
    if profile is not None:
        lines += [f"## {cells.md_escape(profile.title)}", "", cells.markdown(profile),
                  cells.md_escape(profile.note), "", f"CSV: `{csv[profile.name]}`", ""]
    if not sections:
        lines += [f"No trial records found under {cells.md_escape(', '.join(data.sources))}.",
                  ""]
    for s in sections:
        lines += [f"## {cells.md_escape(s.group.title)}", "", cells.md_escape(s.summary), "",
                  cells.md_escape(s.coverage), ""]
        for t in (s.leaderboard, s.geometries, s.equilibrium, s.constraints, s.separability,
                  s.problems):
            if t is None:
                continue
            lines += [f"### {cells.md_escape(t.title)}", "", cells.markdown(t)]
            lines += [cells.md_escape(n) for n in t.notes + ([t.note] if t.note else [])]
            lines += ["", f"CSV: `{csv[t.name]}`", ""]
        lines += ["Provenance: " + "; ".join(f"{k}: {cells.md_escape(v)}"
                                             for k, v in s.provenance), ""]
    return "\n".join(lines)
