"""Text that came from results files (optimizer names, error lines, paths, metric names) on
its way into Markdown or CSV: a shared results directory is input, so such text must stay
text. HTML pages escape through Jinja2's autoescape; this module covers the rest."""

from __future__ import annotations

import html

import pandas as pd

_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`[]|"})
# A spreadsheet reads a cell that starts with one of these as a formula (OWASP, "CSV
# injection"); tab and carriage return let a formula hide behind whitespace.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def md_escape(text: str) -> str:
    """Markdown renderers pass inline HTML through, so escape it; and backslash the link
    brackets (a `[x](javascript:...)` in a name must stay text), code ticks and the cell
    separator."""
    return html.escape(str(text), quote=False).translate(_MD_SPECIAL).replace("\n", " ")


def csv_cell(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula, behind a leading `'` (which
    spreadsheets show as text and hide); anything else as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every text cell and column name through `csv_cell` (numbers untouched)."""
    out = frame.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]):  # object or str (pandas 3)
            out[col] = out[col].map(csv_cell)
    out.columns = [csv_cell(str(c)) for c in out.columns]
    return out
