"""Executors run a sweep's pending trials: `local` (processes on this machine) or `slurm`
(a job array through submitit). They know nothing of tasks; claims make many writers safe."""

from bench.trial.executor_options import ExecutorOptions, add_executor_arguments

__all__ = ["ExecutorOptions", "add_executor_arguments"]
