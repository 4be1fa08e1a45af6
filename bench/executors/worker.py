"""The one entry point of every executor's worker (a local process, this process, a SLURM
array task, each rank of a multi-process SLURM job): `run(batches, settings)` runs each
batch of trials under claims and returns one summary per trial.

A batch of one is a lone trial (bench/executors/claimed.py); a larger one a stacked group
(bench/executors/stacked_unit.py). In a SLURM job the batches run inside the job's environment
(bench/executors/slurm_task.py: signals, DDP from SLURM's variables, its CPUs)."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.executors import slurm_task
from bench.executors.claimed import WorkerSettings, run_claimed
from bench.executors.stacked_unit import run_group_claimed
from bench.isolation.process_state import preserved_process_state
from bench.trial.batch import TrialBatch


def run(batches: Sequence[TrialBatch], settings: WorkerSettings) -> list[dict[str, Any]]:
    """Run the batches one after another; a summary per trial (bench/executors/claimed.py)."""
    if not settings.slurm:
        return [s for batch in batches for s in run_batch(batch, settings)]
    Path(settings.out).mkdir(parents=True, exist_ok=True)
    try:
        with slurm_task.environment(batches) as accelerator:
            return [s for batch in batches for s in run_batch(batch, settings, accelerator)]
    finally:
        # The task's process ends after this, however it ends (submitit saves the summaries
        # or the error; a cancel or a requeue exits): its exit then skips the garbage
        # collector's passes over torch's objects, ~2 s with the task's CPUs still held.
        gc.freeze()


def run_batch(batch: TrialBatch, settings: WorkerSettings, accelerator: Any = None
              ) -> list[dict[str, Any]]:
    """A stacked group in one process, or its trials one by one (a lone trial; any batch
    under DDP, which does not stack). What its code changes in the process (default dtype,
    seeds, thread count) is put back after it (bench/isolation/process_state.py)."""
    with preserved_process_state():
        if batch.stacked and accelerator is None:
            return run_group_claimed(batch, settings)
        return [run_claimed(t, settings, accelerator) for t in batch.trials]
