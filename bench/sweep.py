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


def _init_worker(threads: int, devices: Any) -> None:
    """One CPU thread per worker on CPU; one GPU per worker when there are several."""
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
    from tqdm.auto import tqdm

    ledger = Ledger(opts.out)
    done = ledger.finished_ids(trials)
    pending = [t for t in trials if t.id not in done]
    counts = {"skipped": len(trials) - len(pending), "done": 0, "diverged": 0, "failed": 0}
    if not opts.quiet:
        print(f"{len(trials)} trials: {counts['skipped']} already in {opts.out}, "
              f"{len(pending)} to run with {opts.workers} worker(s)", file=sys.stderr)
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
        if opts.workers <= 1:
            for trial in pending:
                account(_run_one(trial, opts))
        else:
            _run_parallel(pending, opts, account)
    finally:
        bar.close()
    return counts


def _run_parallel(pending: list[Trial], opts: SweepOptions, account: Any) -> None:
    import torch

    ctx = mp.get_context("spawn")
    devices = None
    n_gpu = torch.cuda.device_count()
    if n_gpu > 1:
        devices = ctx.Manager().Queue()
        for i in range(opts.workers):
            devices.put(i % n_gpu)
    threads = max(1, (os.cpu_count() or 1) // opts.workers)
    with ProcessPoolExecutor(opts.workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(threads, devices)) as pool:
        futures = [pool.submit(_run_one, trial, opts) for trial in pending]
        try:
            for future in as_completed(futures):
                account(future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise
