"""Which records were written since a moment: stamps (inode, size, mtime) of record files
taken before trials are handed out, compared afterwards.

A rerun replaces a `failed` or stale record in place (bench/ledger/store.py): "the trial has a
record" then says nothing about this run. A record is written by rename, so a rewritten one
has a new inode even where the clock or the size says nothing new; stamps of the same files
are compared, never a clock against another machine's (NFS)."""

from __future__ import annotations

import os
from collections.abc import Iterable

from bench.ledger.store import Ledger

Stamp = tuple[int, int, int]  # (inode, size, mtime_ns)


def stamps(ledger: Ledger, ids: Iterable[str]) -> dict[str, Stamp | None]:
    """The stamp of each trial's record (None: it has none)."""
    return {i: _stamp(ledger, i) for i in ids}


def written_since(ledger: Ledger, before: dict[str, Stamp | None]) -> set[str]:
    """The trials of `before` whose record was written (or replaced) since it was taken."""
    out = set()
    for trial_id, old in before.items():
        now = _stamp(ledger, trial_id)
        if now is not None and now != old:
            out.add(trial_id)
    return out


def _stamp(ledger: Ledger, trial_id: str) -> Stamp | None:
    try:
        st = os.stat(ledger.path(trial_id))
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)
