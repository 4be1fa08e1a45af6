"""Run trials under claims: the one code path of every executor's worker (a local process,
a SLURM array task, each rank of a multi-process SLURM job)."""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import TrialInterrupted
from bench.ledger.trial_claims import ClaimStore, Heartbeat
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
    slurm: bool = False  # claims of jobs no longer in squeue are stale
    log_with: tuple[str, ...] = ()  # experiment trackers of every trial


def summary(trial: Trial, status: str, error: str = "") -> dict[str, Any]:
    return {"id": trial.id, "status": status, "optimizer": trial.optimizer,
            "error": error.strip().splitlines()[-1:]}


def claim_store(settings: WorkerSettings) -> ClaimStore:
    from bench.executors import squeue
    live = squeue.live_job_ids if settings.slurm else None
    return ClaimStore(settings.out, settings.stale_after_s, live_jobs=live)


def run_claimed(trial: Trial, settings: WorkerSettings, accelerator: Any = None
                ) -> dict[str, Any]:
    """Run a trial if it is still pending and nobody else runs it. Returns a summary whose
    status is the record's, or 'skipped' (finished meanwhile) / 'claimed' (running elsewhere).

    Under DDP only the main process claims; it tells the others whether to run."""
    from bench.engine.runner import run_trial
    from bench.executors.sweep import is_finished
    from bench.ledger.store import Ledger

    main = accelerator is None or accelerator.is_main_process
    store, claim, verdict = claim_store(settings), None, "run"
    if main:
        claim = store.acquire(trial.id)
        if claim is None:
            verdict = "claimed"
        elif is_finished(trial, Ledger(settings.out)):  # finished between listing and claim
            store.release(claim)
            claim, verdict = None, "skipped"
    if accelerator is not None and accelerator.num_processes > 1:
        from accelerate.utils import broadcast_object_list

        verdict = broadcast_object_list([verdict])[0]
    if verdict != "run":
        return summary(trial, verdict)
    beat = Heartbeat(store, claim, settings.heartbeat_s) if claim else None
    try:
        if beat:
            beat.__enter__()
        record = run_trial(trial, settings.out, data_dir=settings.data_dir,
                           cache_dir=settings.cache_dir, show_progress=False,
                           suite=settings.suite, accelerator=accelerator,
                           log_with=settings.log_with, on_step=beat.set_step if beat else None)
    except KeyboardInterrupt:
        if beat and beat.lost:
            return summary(trial, "claimed", "lost its claim to another sweep")
        raise
    finally:
        if beat:
            beat.__exit__(None, None, None)
        if claim:
            store.release(claim)
    return summary(trial, record["status"], record.get("error") or "")


def run_unit(unit: Any, settings: WorkerSettings) -> list[dict[str, Any]]:
    """A trial (`run_claimed`) or a stacked group (bench/executors/stacked_unit.py): summaries.
    What its code changes in the process (default dtype, seeds, threads) is undone after it."""
    from bench.executors.plan import Group
    from bench.isolation.process_state import preserved_process_state

    with preserved_process_state():
        if isinstance(unit, Group):
            from bench.executors.stacked_unit import run_group_claimed

            return run_group_claimed(unit, settings)
        return [run_claimed(unit, settings)]


def init_slurm_distributed() -> None:
    """Point Accelerate at the job's N tasks (DDP from SLURM's environment): rank, world
    size and the rendezvous on the first node; gloo on CPU nodes, NCCL on GPU nodes."""
    import submitit

    env = submitit.JobEnvironment()
    os.environ.update({
        "RANK": str(env.global_rank), "WORLD_SIZE": str(env.num_tasks),
        "LOCAL_RANK": str(env.local_rank),
        "LOCAL_WORLD_SIZE": str(env.num_tasks // max(env.num_nodes, 1)),
        "MASTER_ADDR": env.hostnames[0],
        # One port per job, so jobs sharing a node do not collide.
        "MASTER_PORT": str(20000 + int(str(env.job_id).split("_")[0]) % 20000
                           + int(os.environ.get("SLURM_ARRAY_TASK_ID", 0)) % 1000),
    })
    import torch

    if not torch.cuda.is_available():
        os.environ["ACCELERATE_USE_CPU"] = "true"


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: not again during shutdown
    raise KeyboardInterrupt("SIGTERM")


def _keep_running_if_not_requeued(submitit_handler: Any) -> Any:
    """submitit's time-limit warning handler raises inside the trial when it may not
    requeue any more; then let the trial run on (it may still finish) until SLURM ends the
    job, whose TIMEOUT the sweep writes into the record."""
    from submitit.core.utils import UncompletedJobError

    def handler(signum: int, frame: Any) -> None:
        # The requeue sends SIGTERM while submitit exits: not a cancel, nothing to stop.
        ours = signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            submitit_handler(signum, frame)
        except SystemExit as exit_:  # requeued: not a failure of the trial it interrupts
            raise TrialInterrupted(exit_.code) from None
        except UncompletedJobError as err:
            signal.signal(signal.SIGTERM, ours)
            print(f"wdbench: not requeued ({err}); running on until the time limit",
                  file=sys.stderr)

    return handler


def run_batch(trials: list[dict[str, Any]], settings: WorkerSettings, stacked: bool = False
              ) -> list[dict[str, Any]]:
    """An array task's trials, one after another (one process group for all of them), or
    with `stacked` as one stacked group (bench/engine/stacked).

    SIGTERM (scancel) stops the running trial at once: no record, claim released, its
    checkpoint kept, so it stays pending and the next sweep resumes it. (submitit would
    ignore SIGTERM and let the trial run on until SLURM's KillWait.) The time-limit warning
    (SIGUSR2) stays submitit's: checkpoint, requeue, exit; the requeued task resumes."""
    previous_term = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    usr2 = signal.getsignal(signal.SIGUSR2)
    if callable(usr2):
        signal.signal(signal.SIGUSR2, _keep_running_if_not_requeued(usr2))
    try:
        return _run_batch(trials, settings, stacked)
    except TrialInterrupted as stop:
        raise SystemExit(stop.code) from None  # submitit's own exit after the requeue
    finally:
        signal.signal(signal.SIGTERM, previous_term)


def _run_batch(trials: list[dict[str, Any]], settings: WorkerSettings, stacked: bool
               ) -> list[dict[str, Any]]:
    processes = int(os.environ.get("SLURM_NTASKS", "1"))
    accelerator = None
    if processes > 1:
        init_slurm_distributed()
        from accelerate import Accelerator

        accelerator = Accelerator(mixed_precision=Trial.from_dict(trials[0]).mixed_precision)
    cpus = int(os.environ.get("SLURM_CPUS_PER_TASK", "0"))
    if cpus:
        import torch

        torch.set_num_threads(cpus)
    Path(settings.out).mkdir(parents=True, exist_ok=True)
    if stacked and accelerator is None:
        from bench.executors.plan import Group

        return run_unit(Group(tuple(Trial.from_dict(t) for t in trials)), settings)
    return [run_claimed(Trial.from_dict(t), settings, accelerator) for t in trials]


def follow_parent(parent_pid: int, poll_s: float = 1.0) -> None:
    """In a local pool worker: exit as soon as the sweep's parent process is gone (SIGKILL,
    SIGTERM), instead of training on and then hanging on a dead pipe; and leave Ctrl-C to
    the parent, which prints one line (workers would each print a traceback)."""
    import threading
    import time

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_s)
        os._exit(1)  # the claim expires with its heartbeat; the next sweep re-runs the trial

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()
