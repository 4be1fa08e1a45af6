"""The local executor: jobs in this process (workers <= 1, each run when its result is
asked) or in supervised worker processes (bench/executors/process_pool.py), with submitit's
`Executor` shape (bench/executors/protocol.py). A worker gets one CPU thread share, or one GPU
where there are several, and ends with the sweep's parent; a worker that dies mid-job fails
that job with `WorkerDied` and is replaced."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import Any

from bench.executors.process_pool import ProcessPool


def worker_plan(workers: int, trials_per_gpu: int | None,
                n_gpu: int) -> tuple[int, list[int] | None, str | None]:
    """(workers, the GPU each worker gets or None, a note for the user).

    Without `trials_per_gpu`: `workers` processes, spread one GPU each over several GPUs.
    With it, on a GPU machine: K workers on every GPU (small models leave a GPU idle with
    one). On a machine without GPUs it is ignored with a note, so one command line serves
    both; `workers` then counts CPU processes."""
    if trials_per_gpu is not None and n_gpu > 0:
        workers = trials_per_gpu * n_gpu
        return workers, [i % n_gpu for i in range(workers)], None
    note = None
    if trials_per_gpu is not None:
        note = (f"--trials-per-gpu {trials_per_gpu} ignored: no GPU visible; running "
                f"{workers} worker(s) on CPU (set --workers)")
    return workers, ([i % n_gpu for i in range(workers)] if n_gpu > 1 else None), note


class LocalJob:
    """A job of the local executor: a pool future, or a call made when its result is asked."""

    def __init__(self, job_id: str, future: Future | None = None,
                 call: Callable[[], Any] | None = None, pool: ProcessPool | None = None
                 ) -> None:
        self.job_id, self._future, self._call, self._pool = job_id, future, call, pool
        self._outcome: tuple[bool, Any] | None = None  # (raised, value) of an inline call

    def done(self) -> bool:
        return self._future.done() if self._future is not None else self._outcome is not None

    def result(self) -> Any:
        if self._future is not None:
            while not self._future.done():
                self._pool.pump()
            return self._future.result()
        if self._outcome is None:
            try:
                self._outcome = (False, self._call())
            except Exception as err:
                self._outcome = (True, err)
        raised, value = self._outcome
        if raised:
            raise value
        return value

    def cancel(self) -> bool:
        return self._future.cancel() if self._future is not None else False


class LocalExecutor:
    """`workers` processes (one: this process, unless `isolate`, then one worker process).
    `gpus`: the GPU of each worker (`worker_plan`); None leaves CUDA_VISIBLE_DEVICES alone,
    except that several GPUs are shared out one per worker. Use it as a context manager:
    leaving it on an exception (Ctrl-C) stops the running jobs at once rather than waiting
    for them."""

    def __init__(self, workers: int = 1, gpus: list[int] | None = None,
                 isolate: bool = False) -> None:
        self.workers, self.gpus, self.isolate = workers, gpus, isolate
        self.pool: ProcessPool | None = None
        self._jobs: list[LocalJob] = []

    def __enter__(self) -> LocalExecutor:
        if self.workers > 1 or self.isolate:
            self.pool = _pool(max(self.workers, 1), self.gpus)
        return self

    def __exit__(self, kind: Any, *exc: Any) -> None:
        if self.pool is not None:
            # Ctrl-C: stop the running trials now rather than wait for them to finish.
            self.pool.shutdown(terminate=kind is not None)

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> LocalJob:
        job_id = f"local_{len(self._jobs)}"
        if self.pool is None:
            job = LocalJob(job_id, call=lambda: fn(*args, **kwargs))
        else:
            job = LocalJob(job_id, future=self.pool.submit(fn, *args, **kwargs),
                           pool=self.pool)
        self._jobs.append(job)
        return job

    def map_array(self, fn: Callable[..., Any], *iterables: Iterable[Any]) -> list[LocalJob]:
        return [self.submit(fn, *args) for args in zip(*iterables)]

    def completed(self, jobs: list[LocalJob]) -> Iterator[LocalJob]:
        """The jobs as they end (in this process: in order, each run as it comes). Jobs
        appended to `jobs` meanwhile are waited for too."""
        seen: set[str] = set()
        while True:
            todo = [job for job in jobs if job.job_id not in seen]
            if not todo:
                return
            ended = todo if self.pool is None else [job for job in todo if job.done()]
            for job in ended:
                seen.add(job.job_id)
                yield job
            if not ended:
                self.pool.pump()


def _pool(workers: int, gpus: list[int] | None) -> ProcessPool:
    import torch

    n_gpu = torch.cuda.device_count()
    if gpus is None and n_gpu > 1:
        gpus = [i % n_gpu for i in range(workers)]
    threads = max(1, (os.cpu_count() or 1) // workers)
    return ProcessPool(workers, gpus, threads)
