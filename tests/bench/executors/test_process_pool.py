"""The supervised worker pool of local sweeps: a worker that dies mid-job fails that job with
its exit code or signal and is replaced; a job's SystemExit fails the job, not the worker."""

from __future__ import annotations

import os
import signal

import pytest

from bench.executors.process_pool import JobExited, ProcessPool, WorkerDied, exit_reason

pytestmark = pytest.mark.e2e


def pid() -> int:
    return os.getpid()


def exit_hard(code: int) -> None:
    os._exit(code)


def exit_politely() -> None:
    raise SystemExit(0)


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
