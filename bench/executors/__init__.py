"""Executors run a sweep's pending trials: `plan` groups them into batches (bench/trial/batch.py),
`local` (this process or a pool of processes) or `slurm` (a job array through submitit), both
with submitit's executor shape (`protocol`), run the worker's one entry point (`worker.run`)
on them. They know nothing of tasks; claims make many writers safe."""

from bench.trial.executor_options import ExecutorOptions, add_executor_arguments

__all__ = ["ExecutorOptions", "add_executor_arguments"]
