"""Never compare results of different code in one leaderboard (the report) or ranking (the
sweep summary).

A record's code_fingerprint is 'harness+optimizer' (bench/ledger/fingerprint.py). Inside a group
(task, budget, data) the report keeps the records of the newest harness (the fingerprint of
the most recently run record), and for each optimizer those of its newest optimizer code;
the rest are stale and left out (the page says how many). Records from before fingerprints
existed count as stale beside fingerprinted ones; a ledger of only such records is shown
whole (there is nothing newer to prefer).
"""

from __future__ import annotations

import pandas as pd


def newest_code(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """(the rows of the newest code, how many rows were left out as stale)."""
    if "code_fingerprint" not in frame or not frame["code_fingerprint"].notna().any():
        return frame, 0
    parts = frame["code_fingerprint"].fillna("").astype(str).str.partition("+")
    dates = frame["env_date"].fillna("").astype(str) if "env_date" in frame \
        else pd.Series("", index=frame.index)
    known = parts[0] != ""
    harness = parts.loc[_latest(dates[known]), 0]
    keep = known & (parts[0] == harness)
    for _, idx in frame[keep].groupby("optimizer").groups.items():
        newest = parts.loc[_latest(dates[idx]), 2]
        keep[idx] = parts.loc[idx, 2] == newest
    return frame[keep], int((~keep).sum())


def _latest(dates: pd.Series):
    """Index of the latest ISO date (strings in one format sort as dates)."""
    return dates.sort_values(kind="stable").index[-1]
