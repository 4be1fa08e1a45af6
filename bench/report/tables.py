"""What every report table is: columns named by bench/schema.py over a pandas frame, plus the
per-group frames the tables share (configurations, each optimizer's selected one). Raw values
stay numeric (for CSV and sorting); formatting is cells.py's job.

The tables themselves: leaderboard.py, constraints.py, separability.py, listings.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd

from bench import schema
from bench.analysis import ranking
from bench.report.data import Group

_KINDS = {"text": "text", "int": "int"}


@dataclass
class Column:
    """A table column: the schema key (its header, definition and format) and how the cell
    is drawn. `show` names the frame column holding the displayed text when it differs from
    the raw value the CSV keeps (e.g. 'adamw †' for adamw)."""

    key: str
    note: str = ""  # what this table adds to the schema's definition
    kind: str | None = None  # num | int | text | ci (key, key_ci, key_n) | frac (key, key_of)
    link: str | None = None  # frame column holding the href for this cell
    tip: str | None = None  # frame column holding a tooltip for this cell
    show: str | None = None

    def __post_init__(self) -> None:
        quantity = schema.get(self.key)  # a KeyError here: add the column to bench/schema.py
        if self.kind is None:
            self.kind = _KINDS.get(quantity.fmt, "num")

    @property
    def quantity(self) -> schema.Quantity:
        return schema.get(self.key)

    @property
    def header(self) -> str:
        return self.quantity.header

    @property
    def help(self) -> str:
        return " ".join(p for p in (self.quantity.tooltip, self.note) if p)


@dataclass
class Table:
    name: str  # file stem of its CSV
    title: str
    columns: list[Column]
    frame: pd.DataFrame
    note: str = ""
    empty: str = "No rows."
    notes: list[str] = field(default_factory=list)


def metric_names(group: Group) -> dict[str, str | None]:
    """Which recorded columns play which role in this group's tables."""
    if "present" not in group.cache:  # the columns with a value: asked by every table
        group.cache["present"] = set(group.trials.columns[group.trials.notna().any()])
    present = group.cache["present"]
    sel = group.selection.metric
    headline = next((m for m in ("val_perplexity", "val_accuracy") if m in present and m != sel),
                    None)
    test = next((m for m in (sel.replace("val_", "test_", 1), "test_perplexity",
                             "test_accuracy", "test_loss") if m in present), None)
    return {"selection": sel, "headline": headline, "test": test}


def configs(group: Group) -> pd.DataFrame:
    """One row per configuration (bench.analysis.ranking.configurations), cached on the group."""
    if "configs" not in group.cache:
        group.cache["configs"] = ranking.configurations(group.trials)
    return group.cache["configs"].copy()


def best_configs(group: Group) -> pd.DataFrame:
    """Each optimizer's selected configuration (bench.analysis.ranking.best_per_optimizer)."""
    if "best" not in group.cache:
        group.cache["best"] = ranking.best_per_optimizer(configs(group), group.selection)
    return group.cache["best"].copy()


def selected_trials(group: Group) -> Iterator[tuple[pd.Series, pd.DataFrame]]:
    """Each optimizer's selected configuration with its finished trials (one per seed): the
    rows every per-optimizer table averages over."""
    t = group.trials
    done = t[t["status"] == "done"]
    for _, b in best_configs(group).iterrows():
        yield b, done[(done["optimizer"] == b["optimizer"]) & (done["variant"] == b["variant"])
                      & (done["lr"] == b["lr"]) & (done["weight_decay"] == b["weight_decay"])]


def for_optimizer(table: Table, optimizer: str, slug: str) -> Table:
    """The rows of one optimizer (its own page)."""
    frame = table.frame
    if len(frame):
        frame = frame[frame["optimizer"] == optimizer].reset_index(drop=True)
    return Table(f"{table.name}-{slug}", table.title, table.columns, frame, table.note,
                 table.empty, [])


def variant_column(frame: pd.DataFrame, cols: list[Column], at: int | None = None) -> None:
    """Add the 'variant' column where settings vary (at position `at`, else at the end)."""
    if len(frame) and "variant" in frame and frame["variant"].astype(bool).any():
        col = Column("variant")
        cols.insert(len(cols) if at is None else at, col)
