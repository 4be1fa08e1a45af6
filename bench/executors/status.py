"""Where a sweep stands, from the results directory alone (records, claims, plans,
submissions, the running batches' progress files) plus `squeue` where SLURM is present."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any


def collect(out: Path, stale_after_s: float = 300.0) -> dict[str, Any]:
    """Counts and the running trials, each with its step (of steps; in a stacked group with
    the group's size and members diverged); `pending` counts planned trials neither finished
    nor running (queued in SLURM or not submitted at all)."""
    from bench.executors import squeue, submissions
    from bench.ledger.progress import ProgressFiles
    from bench.ledger.store import Ledger
    from bench.ledger.trial_claims import ClaimStore, Owner

    live_jobs = squeue.live_job_ids()
    store = ClaimStore(out, stale_after_s, live_jobs=lambda: live_jobs)
    records = {}
    for record in Ledger(out).records():
        records[record["id"]] = record["status"]
    me, now = Owner.current(), time.time()
    running = [c for c in store.all_current()
               if c.trial_id not in records and not store.is_stale(c, me, now, live_jobs)]
    queued = submissions.queued_trials(out, live_jobs)
    progress = ProgressFiles(out).by_trial()
    universe = submissions.planned_ids(out) | set(records) | {c.trial_id for c in running}
    counts = {s: sum(1 for v in records.values() if v == s)
              for s in ("done", "diverged", "failed")}
    counts["running"] = len(running)
    pending = universe - set(records) - {c.trial_id for c in running}
    counts["pending"] = len(pending)
    return {
        "out": str(out), "counts": counts, "total": len(universe),
        "queued_in_slurm": len(pending & set(queued)),
        "slurm": live_jobs is not None,
        "running": [_running(c, progress.get(c.trial_id), now) for c in running],
        "host": socket.gethostname(),
    }


def _running(claim: Any, progress: Any, now: float) -> dict[str, Any]:
    """A running trial: who runs it, and its step (and the evaluation under way) from its
    batch's progress file (written every second or so) where there is one, else the step
    from its claim's heartbeat."""
    out = {"id": claim.trial_id, "host": claim.host, "pid": claim.pid,
           "job_id": claim.job_id, "step": claim.step, "steps": None, "group_size": 1,
           "diverged": 0, "evaluating": None, "heartbeat_age_s": round(now - claim.heartbeat, 1)}
    if progress is not None and progress.step >= claim.step:
        out.update(step=progress.step, steps=progress.steps or None,
                   group_size=len(progress.trials), diverged=progress.diverged,
                   evaluating=progress.evaluating)
    return out
