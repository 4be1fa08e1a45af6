"""Every configuration of a group, and the trials that did not finish."""

from __future__ import annotations

import pandas as pd

from bench.report.data import Group
from bench.report.tables import Column, Table, configs, metric_names, variant_column


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
    cols = [Column("optimizer", link="href"), Column("lr"), Column("weight_decay")]
    if "tau" in cfg and cfg["tau"].notna().any():  # a τ grid: the τ each λ came from
        cols.append(Column("tau"))
    cols += [Column(k) for k in ("tau_epoch", "angular_update_cv")
             if k in cfg and cfg[k].notna().any()]
    variant_column(cfg, cols)
    cols += [Column("done", kind="frac"), Column("diverged"), Column("failed"),
             Column("seeds", "Finished seeds.")]
    for metric in [names["selection"], names["headline"], names["test"], "train_loss",
                   "linf_ratio", "fw_gap_rel", "boundary_frac", "l2_stationarity",
                   "dist_box", "dist_l2"]:
        if metric and metric in cfg:
            cols.append(Column(metric, "Mean over finished seeds."))
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
    bad["reason"] = [
        (f"non-finite loss at step {int(d)}" if s == "diverged" and pd.notna(d) else
         (str(e).strip().splitlines()[-1] if isinstance(e, str) and e.strip() else s))
        for s, d, e in zip(bad["status"], bad.get("diverged_at", pd.Series(index=bad.index)),
                           bad["error"])]
    cols = [Column("optimizer", link="href"), Column("lr"), Column("weight_decay"),
            Column("seed"), Column("status"), Column("reason"), Column("id")]
    frame = bad.sort_values(["optimizer", "lr", "weight_decay", "seed"]).reset_index(drop=True)
    return Table(f"problems-{group.slug}", "Diverged and failed trials", cols,
                 frame[[c.key for c in cols] + ["href"]] if len(frame) else frame.iloc[:0],
                 empty="None: every recorded trial finished.")
