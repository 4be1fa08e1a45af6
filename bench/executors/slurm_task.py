"""The environment of a SLURM array task while its batches run (bench/executors/worker.py):
DDP from SLURM's variables when the job has several tasks, its CPUs as torch threads, and
the signals.

SIGTERM (scancel) stops the running trial at once: no record, claim released, its
checkpoint kept, so it stays pending and the next sweep resumes it. (submitit would ignore
SIGTERM and let the trial run on until SLURM's KillWait.) The time-limit warning (SIGUSR2)
stays submitit's: checkpoint, requeue, exit; the requeued task resumes."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from bench.errors import TrialInterrupted
from bench.trial.batch import TrialBatch


@contextmanager
def environment(batches: Sequence[TrialBatch]) -> Iterator[Any]:
    """Signals, DDP and threads for the task's run; yields its Accelerator under DDP (the
    job has several tasks), else None."""
    previous_term = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    usr2 = signal.getsignal(signal.SIGUSR2)
    if callable(usr2):
        signal.signal(signal.SIGUSR2, _keep_running_if_not_requeued(usr2))
    try:
        yield _accelerator(batches)
    except TrialInterrupted as stop:
        raise SystemExit(stop.code) from None  # submitit's own exit after the requeue
    finally:
        signal.signal(signal.SIGTERM, previous_term)


def _accelerator(batches: Sequence[TrialBatch]) -> Any:
    processes = int(os.environ.get("SLURM_NTASKS", "1"))
    accelerator = None
    if processes > 1 and batches:
        init_distributed()
        from accelerate import Accelerator

        accelerator = Accelerator(mixed_precision=batches[0].trials[0].mixed_precision)
    cpus = int(os.environ.get("SLURM_CPUS_PER_TASK", "0"))
    if cpus:
        import torch

        torch.set_num_threads(cpus)
    return accelerator


def init_distributed() -> None:
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
