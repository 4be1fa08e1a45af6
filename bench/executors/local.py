"""The local executor: trials in this process (workers=1) or a pool of spawned processes,
each trial run under a claim so that other sweeps on the same ledger skip it. A unit of work
is a trial or a stacked group (bench/engine/stacked), which holds claims for all its members."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from bench.executors.worker import WorkerSettings, run_unit


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


def _init_worker(threads: int, devices: Any, parent_pid: int) -> None:
    """One CPU thread per worker on CPU; one GPU per worker when there are several; the
    worker ends with the sweep's parent."""
    from bench.executors.worker import follow_parent

    follow_parent(parent_pid)
    if devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(devices.get())
    import torch

    torch.set_num_threads(threads)


def run_local(pending: list[Any], settings: WorkerSettings, workers: int,
              account: Callable[[dict[str, Any]], None],
              gpus: list[int] | None = None) -> None:
    """Run the units (trials, stacked groups); `account(summary)` as each trial ends.
    `gpus`: the GPU of each worker (`worker_plan`); None leaves CUDA_VISIBLE_DEVICES alone,
    except that several GPUs are shared out one per worker."""
    if workers <= 1:
        for unit in pending:
            for result in run_unit(unit, settings):
                account(result)
        return
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
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(threads, devices, os.getpid())) as pool:
        futures = [pool.submit(run_unit, unit, settings) for unit in pending]
        try:
            for future in as_completed(futures):
                for result in future.result():
                    account(result)
        except BaseException:
            for future in futures:
                future.cancel()
            # Ctrl-C: stop the running trials now rather than wait for them to finish.
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            raise
