"""The supervised worker pool of local sweeps: a worker that dies mid-job fails that job with
its exit code or signal and is replaced; a job's SystemExit fails the job, not the worker."""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager

import pytest

from bench.executors.process_pool import JobExited, ProcessPool, WorkerDied, exit_reason

pytestmark = pytest.mark.e2e


def pid() -> int:
    return os.getpid()


def exit_hard(code: int) -> None:
    os._exit(code)


def exit_politely() -> None:
    raise SystemExit(0)


def env_and_say(name: str) -> str | None:
    """The worker's $name, after writing a line to its stdout and its stderr."""
    import sys

    print(f"said on stdout by {os.getpid()}", flush=True)
    print(f"said on stderr by {os.getpid()}", file=sys.stderr, flush=True)
    return os.environ.get(name)


@contextmanager
def _streams_to_devnull():
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)
        os.close(null)


def _result(pool: ProcessPool, fn, *args):
    future = pool.submit(fn, *args)
    while not future.done():
        pool.pump()
    return future.result()


def test_a_dead_worker_fails_its_job_and_is_replaced():
    pool = ProcessPool(1)
    try:
        dies = pool.submit(exit_hard, 3)
        after = pool.submit(pid)  # queued behind it, on the same (only) worker
        while not after.done():
            pool.pump()
        with pytest.raises(WorkerDied) as died:
            dies.result()
        assert died.value.exitcode == 3 and str(died.value) == "worker process exited with code 3"
        assert after.result() == pool.pids()[0] != died.value.pid and pool.replaced == 1
        exits = pool.submit(exit_politely)
        while not exits.done():
            pool.pump()
        with pytest.raises(JobExited, match="SystemExit"):
            exits.result()
        assert pool.replaced == 1  # the worker served on
    finally:
        pool.shutdown()


@pytest.mark.parametrize("code,words", [
    (0, "worker process exited with code 0"),
    (-signal.SIGSEGV, "worker process killed by signal SIGSEGV (a segmentation fault)"),
    (-signal.SIGKILL, "killed by signal SIGKILL (the out-of-memory killer, or kill -9)"),
    (-signal.SIGTERM, "worker process killed by signal SIGTERM"),
])
def test_exit_reasons_name_the_code_or_signal(code, words):
    assert words in exit_reason(code)


def test_a_worker_starts_with_the_environment_and_streams_of_its_pools_start(
        monkeypatch, capfd):
    """Workers fork from a server that the first pool of this process started: a later
    pool's workers still see the environment and the stdout/stderr of their own start."""
    with _streams_to_devnull():  # where the server's own streams go, if this starts it
        first = ProcessPool(1)
        try:
            _result(first, pid)  # the fork server runs, with this moment's environment
        finally:
            first.shutdown()
    monkeypatch.setenv("WDBENCH_TEST_POOL_VALUE", "set after the first pool")
    capfd.readouterr()  # this test's streams from here on
    second = ProcessPool(1)
    try:
        assert _result(second, env_and_say, "WDBENCH_TEST_POOL_VALUE") == \
            "set after the first pool"
        worker = second.pids()[0]
    finally:
        second.shutdown()
    said = capfd.readouterr()
    assert f"said on stdout by {worker}" in said.out
    assert f"said on stderr by {worker}" in said.err
