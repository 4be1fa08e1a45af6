"""Table -> display cells (text, sort key, link, tooltip) and -> CSV / Markdown. All text is
returned raw: HTML escaping is Jinja2's (autoescape on), Markdown escaping is `md_escape`."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.report.tables import Column, Table

GAP = "—"


@dataclass
class Cell:
    text: str
    sort: str | None  # numeric sort key; None: sort on the text
    href: str | None = None
    title: str | None = None
    numeric: bool = False


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def fmt_num(value: Any, digits: int = 4) -> str:
    if _missing(value):
        return GAP
    if isinstance(value, bool):
        return "yes" if value else "no"
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    if v == int(v) and abs(v) < 1e6:
        return str(int(v))
    return f"{v:.{digits}g}"


def _sort_key(value: Any) -> str:
    return "" if _missing(value) else repr(float(value))


def cell(row: dict, col: Column) -> Cell:
    value = row.get(col.show or col.key)
    href = row.get(col.link) if col.link else None
    href = None if _missing(href) else str(href)
    if col.kind == "text":
        tip = row.get(col.tip) if col.tip else None
        return Cell(GAP if _missing(value) else str(value), None, href,
                    None if _missing(tip) else str(tip))
    if col.kind == "ci":
        half, n = row.get(f"{col.key}_ci"), row.get(f"{col.key}_n")
        if _missing(value):
            return Cell(GAP, "", href, "no finished seed", True)
        text = fmt_num(value) + (f" ± {fmt_num(half, 2)}" if not _missing(half) else "")
        tip = f"n = {int(n)} seeds" if not _missing(n) else None
        if not _missing(n) and int(n) == 1:
            text += " (1 seed)"
        return Cell(text, _sort_key(value), href, tip, True)
    if col.kind == "frac":
        of = row.get(f"{col.key}_of")
        text = GAP if _missing(value) else f"{fmt_num(value)}/{fmt_num(of)}"
        return Cell(text, _sort_key(value), href, None, True)
    fmt = col.quantity.fmt
    if fmt == "pct" and not _missing(value):
        return Cell(f"{100 * float(value):.0f}%", _sort_key(value), href, None, True)
    return Cell(fmt_num(value, 3 if fmt == "g3" else 4), _sort_key(value), href, None, True)


@dataclass
class Row:
    cells: list[Cell]
    css: str | None = None  # the frame's 'css' column, e.g. 'verdict-holds'


def rows(table: Table) -> list[Row]:
    return [Row([cell(r, c) for c in table.columns],
                r["css"] if isinstance(r.get("css"), str) else None)
            for r in table.frame.to_dict("records")]


def csv_frame(table: Table) -> pd.DataFrame:
    """The raw values behind every column (interval half-widths and counts spelled out),
    headed by schema keys (bench/schema.py, with its SUFFIXES)."""
    keys: list[str] = []
    for col in table.columns:
        keys.append(col.key)
        if col.kind == "ci":
            keys += [f"{col.key}_ci", f"{col.key}_n"]
        if col.kind == "frac":
            keys.append(f"{col.key}_of")
    frame = table.frame.reindex(columns=keys)
    renames = {f"{c.key}_ci": f"{c.key}_ci95_halfwidth" for c in table.columns if c.kind == "ci"}
    renames.update({f"{c.key}_n": f"{c.key}_seeds" for c in table.columns if c.kind == "ci"})
    return frame.rename(columns=renames)


def write_csv(table: Table, out: Path) -> str:
    path = out / "tables" / f"{table.name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    csv_frame(table).to_csv(path, index=False)
    return f"tables/{table.name}.csv"


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`[]|"})


def md_escape(text: str) -> str:
    """Markdown renderers pass inline HTML through, so escape it; and backslash the link
    brackets (a `[x](javascript:...)` in a name must stay text), code ticks and the cell
    separator."""
    return html.escape(str(text), quote=False).translate(_MD_SPECIAL).replace("\n", " ")


def markdown(table: Table) -> str:
    if table.frame.empty:
        return f"_{md_escape(table.empty)}_\n"
    head = "| " + " | ".join(md_escape(c.header) for c in table.columns) + " |"
    rule = "|" + "|".join("---:" if c.kind != "text" else "---" for c in table.columns) + "|"
    body = ["| " + " | ".join(md_escape(c.text) for c in row.cells) + " |"
            for row in rows(table)]
    return "\n".join([head, rule, *body]) + "\n"
