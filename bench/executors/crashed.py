"""A unit of work whose process ended before it did (a local worker that died, a SLURM array
task that failed): its trials that were running get a `failed` record saying why in one
line; its trials that never started are handed out again; the rest of the sweep goes on.

Which trials were running is read from the results directory: the progress files the worker
wrote for its running batch (bench/ledger/progress.py), else the claims its process held."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.executors.claimed import WorkerSettings, claim_store, summary
from bench.ledger.progress import ProgressFiles
from bench.ledger.record_stamps import Stamp, written_since
from bench.ledger.store import Ledger
from bench.trial.batch import TrialBatch
from bench.trial.config import Trial


def failed_record(trial: Trial, suite: str | None, line: str) -> dict[str, Any]:
    """The record of a trial whose process died: status `failed`, `line` as its error."""
    from bench.engine.record import new_record

    return {**new_record(trial, suite), "error": line, "final": {}, "best": {}, "curve": [],
            "timing": {}, "env": {}}


def record_failed(trial: Trial, line: str, settings: WorkerSettings) -> bool:
    """Write `trial`'s failed record under its claim (taking over the dead holder's), unless
    someone runs it now or it got a record meanwhile. Whether it was written."""
    store, ledger = claim_store(settings), Ledger(settings.out)
    claim = store.acquire(trial.id)
    if claim is None:
        return False  # another sweep runs it now
    try:
        if ledger.is_finished(trial):
            return False
        ledger.write(failed_record(trial, settings.suite, line))
        return True
    finally:
        store.release(claim)


@dataclass
class Aftermath:
    """What became of a dead unit's trials."""

    summaries: list[dict[str, Any]]  # of the trials that ended (a record, or failed now)
    again: list[Trial]  # never started: to run again


def settle(unit: TrialBatch, line: str, settings: WorkerSettings,
           before: dict[str, Stamp | None], pid: int | None = None) -> Aftermath:
    """The trials of `unit`, whose process died (`line`: how; `pid`: its process id):
    those with a record written since `before` ended; those that were running fail with
    `line`; the others (members of a group falling back one by one that had not started)
    run again."""
    ledger, progress = Ledger(settings.out), ProgressFiles(settings.out)
    written = written_since(ledger, {t.id: before.get(t.id) for t in unit.trials})
    out, store = [], claim_store(settings)
    for trial in unit.trials:
        if trial.id in written:
            record = ledger.read(trial.id)
            out.append(summary(trial, record["status"], record.get("error") or ""))
            claim = store.current(trial.id)
            if claim is not None and pid is not None and claim.pid == pid:
                store.release(claim)  # a group holds its claims to its end: the dead one's
    rest = [t for t in unit.trials if t.id not in written]
    running = _running(unit, rest, settings, pid)
    for batch_id in {unit.id, *(TrialBatch.of(t).id for t in unit.trials)}:
        progress.remove(batch_id)  # left by the dead worker
    for trial in running:
        status = "failed" if record_failed(trial, line, settings) else "claimed"
        out.append(summary(trial, status, line))
    return Aftermath(out, [t for t in rest if t not in running])


def _running(unit: TrialBatch, rest: list[Trial], settings: WorkerSettings,
             pid: int | None) -> list[Trial]:
    """The trials of `rest` the dead process was running: named by its progress files,
    else claimed by it; where neither says, all of them (never a loop of reruns)."""
    files = ProgressFiles(settings.out).read_all()
    named = {i for batch_id in {unit.id, *(TrialBatch.of(t).id for t in rest)}
             if batch_id in files for i in files[batch_id].trials}
    found = [t for t in rest if t.id in named]
    if not found and pid is not None:
        store = claim_store(settings)
        found = [t for t in rest if (c := store.current(t.id)) is not None and c.pid == pid]
    return found or rest
