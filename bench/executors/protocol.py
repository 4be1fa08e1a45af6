"""The executor protocol: the shape of submitit's own `Executor`, which the SLURM executor is
(bench/executors/slurm.py) and the local one copies (bench/executors/local.py). A sweep hands
the worker's entry point (bench/executors/worker.py::run) and its batches to `map_array` and
gets one job per array task back."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol


class Job(Protocol):
    job_id: str

    def done(self) -> bool:
        """Whether the job has ended (returned or raised)."""

    def result(self) -> Any:
        """What the job's function returned (waits for it); raises what it raised."""


class Executor(Protocol):
    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Job:
        """Run `fn(*args, **kwargs)` as one job."""

    def map_array(self, fn: Callable[..., Any], *iterables: Iterable[Any]) -> list[Job]:
        """One job per element of the zipped `iterables`: `fn(*element)`."""
