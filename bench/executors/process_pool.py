"""The local executor's worker processes, supervised: one job at a time per worker, and a
worker that dies mid-job (os._exit, a segfault, the out-of-memory killer) fails that job
with `WorkerDied` (its exit code or signal) and is replaced, so the other jobs run on.

(concurrent.futures' ProcessPoolExecutor instead declares the whole pool broken: every job
in flight or queued fails, and the sweep with them.)

The pool is driven from the thread that waits for results (`pump`): no thread of its own.
Workers are forked from a fork server that has imported torch (bench/executors/
worker_processes.py); each gets its share of CPU threads, its GPU where it has one, and exits
when the sweep's process is gone."""

from __future__ import annotations

import os
import signal
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from bench.executors import worker_processes


class WorkerDied(Exception):
    """The worker process running a job ended before the job did."""

    def __init__(self, exitcode: int | None, pid: int | None = None) -> None:
        self.exitcode, self.pid = exitcode, pid
        super().__init__(exit_reason(exitcode))


class JobExited(Exception):
    """A job raised SystemExit or another BaseException that is no Exception: the job
    failed, the worker (and the sweep waiting for it) goes on."""


def exit_reason(exitcode: int | None) -> str:
    """A worker's end in words: its exit code, or the signal that killed it."""
    if exitcode is None:
        return "worker process vanished"
    if exitcode >= 0:
        return f"worker process exited with code {exitcode}"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f"signal {-exitcode}"
    why = {"SIGKILL": " (the out-of-memory killer, or kill -9)",
           "SIGSEGV": " (a segmentation fault)", "SIGBUS": " (a bus error)",
           "SIGABRT": " (an abort)"}.get(name, "")
    return f"worker process killed by signal {name}{why}"


@dataclass
class _Slot:
    """One worker: its process, its end of the pipe, its GPU and the job it runs."""

    gpu: int | None
    process: Any = None
    conn: Connection | None = None
    job: Future | None = None


@dataclass
class _Queued:
    future: Future
    call: tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


@dataclass
class ProcessPool:
    """`workers` worker processes; `gpus[i]` the GPU of worker i (None: leave
    CUDA_VISIBLE_DEVICES alone); `threads` torch threads each."""

    workers: int
    gpus: list[int] | None = None
    threads: int = 1
    slots: list[_Slot] = field(init=False)
    queue: deque = field(init=False, default_factory=deque)
    replaced: int = field(init=False, default=0)  # workers started again after dying

    def __post_init__(self) -> None:
        self.ctx = worker_processes.context()
        self.slots = [_Slot(self.gpus[i] if self.gpus else None) for i in range(self.workers)]
        for slot in self.slots:
            self._start(slot)

    def _start(self, slot: _Slot) -> None:
        ours, theirs = self.ctx.Pipe()
        slot.process = self.ctx.Process(target=_serve, name="wdbench-worker",
                                        args=(theirs, self.threads, slot.gpu,
                                              worker_processes.Inherited.now()))
        slot.process.start()
        theirs.close()
        slot.conn, slot.job = ours, None

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        self.queue.append(_Queued(future, (fn, args, kwargs)))
        return future

    def pump(self, timeout: float | None = None) -> None:
        """Hand queued jobs to idle workers, then wait (at most `timeout` s) for a result or
        a worker's end and take it in."""
        self._dispatch()
        busy = [s for s in self.slots if s.job is not None]
        if not busy:
            return
        ready = wait([s.conn for s in busy] + [s.process.sentinel for s in busy], timeout)
        for slot in busy:
            if slot.conn in ready or slot.process.sentinel in ready:
                self._settle(slot)
        self._dispatch()

    def _dispatch(self) -> None:
        for slot in self.slots:
            while slot.job is None and self.queue:
                queued = self.queue.popleft()
                if not queued.future.set_running_or_notify_cancel():
                    continue  # cancelled while queued
                if not slot.process.is_alive():
                    self._replace(slot)  # it died between jobs
                try:
                    self._send(slot, queued.call)
                except Exception as err:  # the call does not pickle: that job fails
                    queued.future.set_exception(err)
                    continue
                slot.job = queued.future

    def _send(self, slot: _Slot, call: Any) -> None:
        try:
            slot.conn.send(call)
        except (BrokenPipeError, ConnectionResetError, EOFError):
            slot.process.join()  # it died as the call went out: once more, to a new one
            self._replace(slot)
            slot.conn.send(call)

    def _settle(self, slot: _Slot) -> None:
        """Take in the result of the slot's job, or the death of its worker."""
        job = slot.job
        try:
            if slot.conn.poll():  # a result sent just before the worker died still counts
                ok, value = slot.conn.recv()
                slot.job = None
                job.set_result(value) if ok else job.set_exception(value)
                return
        except (EOFError, OSError):
            slot.process.join()  # its end of the pipe closed: it is exiting
        if slot.process.is_alive():
            return
        slot.process.join()
        slot.job = None
        job.set_exception(WorkerDied(slot.process.exitcode, slot.process.pid))
        self._replace(slot)

    def _replace(self, slot: _Slot) -> None:
        slot.conn.close()
        self.replaced += 1
        self._start(slot)

    def shutdown(self, terminate: bool = False) -> None:
        """Stop the workers: at once (`terminate`, e.g. on Ctrl-C), else once idle."""
        for queued in self.queue:
            queued.future.cancel()
        self.queue.clear()
        for slot in self.slots:
            if terminate:
                slot.process.terminate()
            else:
                try:
                    slot.conn.send(None)
                except OSError:
                    pass
        for slot in self.slots:
            slot.process.join()
            slot.conn.close()

    def pids(self) -> list[int]:
        return [s.process.pid for s in self.slots]


def _serve(conn: Connection, threads: int, gpu: int | None,
           inherited: worker_processes.Inherited) -> None:
    """A worker: run each call received, send back (True, result) or (False, exception),
    until told to stop (None) or the sweep's process is gone."""
    inherited.adopt()
    worker_processes.follow_parent()
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    import torch

    torch.set_num_threads(threads)
    while True:
        try:
            call = conn.recv()
        except (EOFError, OSError):
            return
        if call is None:
            return
        fn, args, kwargs = call
        try:
            reply = (True, fn(*args, **kwargs))
        except Exception as err:
            reply = (False, err)
        except BaseException as err:  # SystemExit: the job failed, not this worker
            reply = (False, JobExited(f"{type(err).__name__}: {err}"))
        try:
            conn.send(reply)
        except Exception as err:  # a result or exception that does not pickle
            conn.send((False, RuntimeError(f"the job's result could not be sent back: "
                                           f"{type(err).__name__}: {err}")))

