"""Never compare results of different code in one leaderboard (the report) or ranking (the
sweep summary).

A record's code_fingerprint is 'harness+optimizer' (bench/ledger/fingerprint.py). Inside a group
(task, budget, data) the report keeps the records of the newest harness (the fingerprint of
the most recently run record), and for each optimizer those of its newest optimizer code;
the rest are stale and left out (the page says how many). Records from before fingerprints
existed count as stale beside fingerprinted ones; a ledger of only such records is shown
whole (there is nothing newer to prefer).

Of the records left, one per (configuration, seed) counts (`one_per_sample`): a suite rerun
with another checkpoint_every, eval_every or compile writes records with other ids but the
same configuration and seed (their `config_key`, bench/trial/config.py), and counting each
would shrink every interval over seeds.
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


def one_per_sample(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """(one row per config_key: the latest finished record, else the latest; how many rows
    were left out as superseded). A frame without config_key is returned whole."""
    if "config_key" not in frame or frame.empty:
        return frame, 0
    finished = frame["status"].isin(("done", "diverged")) if "status" in frame \
        else pd.Series(True, index=frame.index)
    dates = frame["env_date"].fillna("").astype(str) if "env_date" in frame \
        else pd.Series("", index=frame.index)
    order = pd.DataFrame({"finished": finished, "date": dates,
                          "id": frame["id"].astype(str) if "id" in frame else ""})
    latest = order.sort_values(["finished", "date", "id"], kind="stable").groupby(
        frame["config_key"].fillna(frame.get("id", "")), sort=False).tail(1).index
    keep = frame.index.isin(latest)
    return frame[keep], int((~keep).sum())
