"""The local executor: jobs in this process (workers <= 1, each run when its result is
asked) or in a pool of spawned processes, with submitit's `Executor` shape
(bench/executors/protocol.py). A pool worker gets one CPU thread share, or one GPU where there
are several, and ends with the sweep's parent."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Any


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
                 call: Callable[[], Any] | None = None) -> None:
        self.job_id, self._future, self._call = job_id, future, call
        self._outcome: tuple[bool, Any] | None = None  # (raised, value) of an inline call

    def done(self) -> bool:
        return self._future.done() if self._future is not None else self._outcome is not None

    def result(self) -> Any:
        if self._future is not None:
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
    """`workers` processes (spawned; none: this process). `gpus`: the GPU of each worker
    (`worker_plan`); None leaves CUDA_VISIBLE_DEVICES alone, except that several GPUs are
    shared out one per worker. Use it as a context manager: leaving it on an exception
    (Ctrl-C) stops the running jobs at once rather than waiting for them."""

    def __init__(self, workers: int = 1, gpus: list[int] | None = None) -> None:
        self.workers, self.gpus = workers, gpus
        self.pool: ProcessPoolExecutor | None = None
        self._jobs: list[LocalJob] = []

    def __enter__(self) -> LocalExecutor:
        if self.workers > 1:
            self.pool = _pool(self.workers, self.gpus)
        return self

    def __exit__(self, kind: Any, *exc: Any) -> None:
        if self.pool is None:
            return
        if kind is not None:
            for job in self._jobs:
                job.cancel()
            # Ctrl-C: stop the running trials now rather than wait for them to finish.
            for process in list(getattr(self.pool, "_processes", {}).values()):
                process.terminate()
        self.pool.shutdown(wait=True)

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> LocalJob:
        job_id = f"local_{len(self._jobs)}"
        if self.pool is None:
            job = LocalJob(job_id, call=lambda: fn(*args, **kwargs))
        else:
            job = LocalJob(job_id, future=self.pool.submit(fn, *args, **kwargs))
        self._jobs.append(job)
        return job

    def map_array(self, fn: Callable[..., Any], *iterables: Iterable[Any]) -> list[LocalJob]:
        return [self.submit(fn, *args) for args in zip(*iterables)]

    def completed(self, jobs: list[LocalJob]) -> Iterator[LocalJob]:
        """The jobs as they end (in this process: in order, each run as it comes)."""
        if self.pool is None:
            yield from jobs
            return
        by_future = {job._future: job for job in jobs}
        for future in as_completed(by_future):
            yield by_future[future]


def _pool(workers: int, gpus: list[int] | None) -> ProcessPoolExecutor:
    import torch

    ctx = mp.get_context("spawn")
    devices = None
    n_gpu = torch.cuda.device_count()
    if gpus is None and n_gpu > 1:
        gpus = [i % n_gpu for i in range(workers)]
    if gpus is not None:
        devices = ctx.Manager().Queue()
        for gpu in gpus:
            devices.put(gpu)
    threads = max(1, (os.cpu_count() or 1) // workers)
    return ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(threads, devices, os.getpid()))


def _init_worker(threads: int, devices: Any, parent_pid: int) -> None:
    """One CPU thread share per worker on CPU; one GPU per worker when there are several;
    the worker ends with the sweep's parent."""
    follow_parent(parent_pid)
    if devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(devices.get())
    import torch

    torch.set_num_threads(threads)


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
