"""Run many trials into one ledger: skip finished ones (resume), run the rest in N workers."""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import Trial
from bench.store import Ledger


@dataclass(frozen=True)
class SweepOptions:
    out: Path
    workers: int = 1
    data_dir: str | None = None
    cache_dir: str | None = None
    quiet: bool = False
    suite: str | None = None
    trials_per_gpu: int | None = None  # K workers per visible GPU (replaces `workers` there)


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


def _init_worker(threads: int, devices: Any) -> None:
    """An equal share of the CPU threads per worker; its GPU when the plan gives one."""
    if devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(devices.get())
    import torch

    torch.set_num_threads(threads)


def _run_one(trial: Trial, opts: SweepOptions) -> dict[str, Any]:
    from bench.runner import run_trial

    record = run_trial(trial, opts.out, data_dir=opts.data_dir, cache_dir=opts.cache_dir,
                       show_progress=False, suite=opts.suite)
    return {"id": record["id"], "status": record["status"], "optimizer": trial.optimizer,
            "error": (record.get("error") or "").strip().splitlines()[-1:]}


def run_sweep(trials: list[Trial], opts: SweepOptions) -> dict[str, int]:
    """Run every trial without a record made by the current code (a stale record's trial runs
    again and its record is replaced); returns counts by status for this call."""
    import torch
    from tqdm.auto import tqdm

    ledger = Ledger(opts.out)
    done = ledger.finished_ids(trials)
    pending = [t for t in trials if t.id not in done]
    counts = {"skipped": len(trials) - len(pending), "done": 0, "diverged": 0, "failed": 0}
    workers, gpus, note = worker_plan(opts.workers, opts.trials_per_gpu,
                                      torch.cuda.device_count())
    if note:
        print(note, file=sys.stderr)
    if not opts.quiet:
        print(f"{len(trials)} trials: {counts['skipped']} already in {opts.out}, "
              f"{len(pending)} to run with {workers} worker(s)", file=sys.stderr)
    bar = tqdm(total=len(pending), desc="trials", disable=opts.quiet or not pending,
               dynamic_ncols=True)

    def account(result: dict[str, Any]) -> None:
        counts[result["status"]] += 1
        bar.update(1)
        bar.set_postfix({k: v for k, v in counts.items() if k != "skipped" and v}, refresh=False)
        if result["status"] == "failed":
            tqdm.write(f"trial {result['id']} ({result['optimizer']}) failed: "
                       f"{' '.join(result['error'])}", file=sys.stderr)

    try:
        if workers <= 1:
            for trial in pending:
                account(_run_one(trial, opts))
        else:
            _run_parallel(pending, opts, account, workers, gpus)
    finally:
        bar.close()
    return counts


def _run_parallel(pending: list[Trial], opts: SweepOptions, account: Any, workers: int,
                  gpus: list[int] | None) -> None:
    ctx = mp.get_context("spawn")
    devices = None
    if gpus is not None:
        devices = ctx.Manager().Queue()
        for gpu in gpus:
            devices.put(gpu)
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(threads, devices)) as pool:
        futures = [pool.submit(_run_one, trial, opts) for trial in pending]
        try:
            for future in as_completed(futures):
                account(future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise
