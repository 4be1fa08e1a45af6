"""Trials run under claims, so that many sweeps (and SLURM jobs) can share one ledger: what a
worker needs (`WorkerSettings`), the claim store, the one-line summary a worker returns per
trial, the progress a running batch writes, and a lone trial's run (`run_claimed`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bench.ledger.progress import WRITE_EVERY_S, ProgressFiles, ProgressWriter
from bench.ledger.store import Ledger
from bench.ledger.trial_claims import ClaimStore, Heartbeat
from bench.trial.batch import TrialBatch
from bench.trial.config import Trial


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker needs besides the trials (picklable: it travels to SLURM jobs)."""

    out: str
    data_dir: str | None = None
    cache_dir: str | None = None
    suite: str | None = None
    heartbeat_s: float = 10.0
    stale_after_s: float = 300.0
    slurm: bool = False  # runs in a SLURM array task; claims of jobs gone from squeue are stale
    log_with: tuple[str, ...] = ()  # experiment trackers of every trial
    progress_s: float = WRITE_EVERY_S  # how often a running batch writes its progress file


def summary(trial: Trial, status: str, error: str = "") -> dict[str, Any]:
    return {"id": trial.id, "status": status, "optimizer": trial.optimizer,
            "error": error.strip().splitlines()[-1:]}


def claim_store(settings: WorkerSettings) -> ClaimStore:
    from bench.executors import squeue
    live = squeue.live_job_ids if settings.slurm else None
    return ClaimStore(settings.out, settings.stale_after_s, live_jobs=live)


def progress_writer(settings: WorkerSettings, batch: TrialBatch,
                    beats: Iterable[Heartbeat]) -> ProgressWriter:
    """The engine's per-step callback for `batch`: its progress file, and the step its
    claims' heartbeats report, both at most every `settings.progress_s` seconds."""
    beats = list(beats)

    def tell_beats(step: int) -> None:
        for beat in beats:
            beat.set_step(step)

    writer = ProgressWriter(ProgressFiles(settings.out), batch.id, batch.trial_ids,
                            every_s=settings.progress_s, also=tell_beats)
    writer.start()
    return writer


def run_claimed(trial: Trial, settings: WorkerSettings, accelerator: Any = None
                ) -> dict[str, Any]:
    """Run a trial if it is still pending and nobody else runs it. Returns a summary whose
    status is the record's, or 'skipped' (finished meanwhile) / 'claimed' (running elsewhere).

    Under DDP only the main process claims; it tells the others whether to run."""
    from bench.engine.runner import run_trial

    main = accelerator is None or accelerator.is_main_process
    store, claim, verdict = claim_store(settings), None, "run"
    if main:
        claim = store.acquire(trial.id)
        if claim is None:
            verdict = "claimed"
        elif Ledger(settings.out).is_finished(trial):  # finished between listing and claim
            store.release(claim)
            claim, verdict = None, "skipped"
    if accelerator is not None and accelerator.num_processes > 1:
        from accelerate.utils import broadcast_object_list

        verdict = broadcast_object_list([verdict])[0]
    if verdict != "run":
        return summary(trial, verdict)
    beat = Heartbeat(store, claim, settings.heartbeat_s) if claim else None
    progress = None
    try:
        if beat:
            beat.__enter__()
            progress = progress_writer(settings, TrialBatch.of(trial), [beat])
        record = run_trial(trial, settings.out, data_dir=settings.data_dir,
                           cache_dir=settings.cache_dir, show_progress=False,
                           suite=settings.suite, accelerator=accelerator,
                           log_with=settings.log_with, on_step=progress)
    except KeyboardInterrupt:
        if beat and beat.lost:
            return summary(trial, "claimed", "lost its claim to another sweep")
        raise
    finally:
        if progress:
            progress.close()
        if beat:
            beat.__exit__(None, None, None)
        if claim:
            store.release(claim)
    return summary(trial, record["status"], record.get("error") or "")
