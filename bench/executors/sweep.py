"""Run many trials into one ledger: skip finished ones (resume) and ones another sweep is
running (claims), plan the rest into batches (bench/executors/plan.py: stacked groups, lone
trials) and hand them with the worker's entry point (bench/executors/worker.py::run) to an
executor (bench/executors/protocol.py): local processes or a SLURM job array. The bar
(bench/executors/sweep_bar.py) moves with the running batches' steps."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.executors.claimed import WorkerSettings
from bench.ledger.store import Ledger
from bench.trial.batch import TrialBatch
from bench.trial.config import Trial
from bench.trial.executor_options import ExecutorOptions


@dataclass(frozen=True)
class SweepOptions:
    out: Path
    workers: int = 1
    data_dir: str | None = None
    cache_dir: str | None = None
    quiet: bool = False
    suite: str | None = None
    executor: ExecutorOptions = field(default_factory=ExecutorOptions)
    detach: bool = False
    log_with: tuple[str, ...] = ()  # experiment trackers (bench/trial/tracking.py)
    trials_per_gpu: int | None = None  # K local workers per visible GPU (replaces `workers`)

    def worker_settings(self) -> WorkerSettings:
        return WorkerSettings(out=str(self.out), data_dir=self.data_dir,
                              cache_dir=self.cache_dir, suite=self.suite,
                              heartbeat_s=self.executor.heartbeat_s,
                              stale_after_s=self.executor.stale_after_s,
                              slurm=self.executor.kind == "slurm", log_with=self.log_with)


def run_sweep(trials: list[Trial], opts: SweepOptions) -> dict[str, int]:
    """Run every trial that is neither finished nor running elsewhere; returns counts by
    status for this call (skipped: finished before; elsewhere: run by another sweep)."""
    from bench.executors import submissions
    ledger = Ledger(opts.out)
    submissions.write_plan(opts.out, [t.id for t in trials], opts.suite)
    pending = ledger.pending(trials)
    busy = _busy_elsewhere(opts)
    todo = [t for t in pending if t.id not in busy]
    counts = {"skipped": len(trials) - len(pending), "elsewhere": len(pending) - len(todo),
              "done": 0, "diverged": 0, "failed": 0, "pending": 0}
    units = _stack_plan(todo, opts, ledger)
    if opts.executor.kind == "slurm":
        return _run_slurm(todo, units, opts, counts)
    workers, gpus = _local_plan(opts)
    if not opts.quiet:
        print(f"{len(trials)} trials: {counts['skipped']} already in {opts.out}, "
              f"{counts['elsewhere']} running elsewhere, "
              f"{len(todo)} to run with {workers} worker(s){_groups_note(units)}",
              file=sys.stderr)
    _run_local(units, opts, counts, workers, gpus)
    return counts


def _stack_plan(todo: list[Trial], opts: SweepOptions, ledger: Ledger) -> list[TrialBatch]:
    """The units of work: stacked groups and single trials (bench/executors/plan.py);
    why trials do not stack is said once per reason."""
    from bench.executors.plan import plan

    size = opts.executor.stack_size
    if opts.log_with and size > 1:
        if not opts.quiet:
            print("stacking: off with --log-with (trackers follow one trial)", file=sys.stderr)
        size = 1
    result = plan(todo, size, ledger.checkpoints_dir, opts.executor.processes)
    if not opts.quiet:
        for note in result.notes():
            print(note, file=sys.stderr)
    return result.units


def _groups_note(units: list[TrialBatch]) -> str:
    groups = [u for u in units if u.stacked]
    if not groups:
        return ""
    return (f", {sum(g.size for g in groups)} of them in {len(groups)} stacked group(s) "
            "(--no-stack to turn off)")


def _busy_elsewhere(opts: SweepOptions) -> set[str]:
    """Trials held by a live claim, or queued in a SLURM array that has not ended."""
    from bench.executors import squeue, submissions
    from bench.executors.claimed import claim_store

    settings = opts.worker_settings()
    busy = {c.trial_id for c in claim_store(settings).live()}
    if opts.executor.kind == "slurm" or submissions.submissions(opts.out):
        busy |= set(submissions.queued_trials(opts.out, squeue.live_job_ids()))
    return busy


def _local_plan(opts: SweepOptions) -> tuple[int, list[int] | None]:
    """Local workers and their GPUs (`--trials-per-gpu` on a GPU machine; a note without)."""
    import torch

    from bench.executors.local import worker_plan

    workers, gpus, note = worker_plan(opts.workers, opts.trials_per_gpu,
                                      torch.cuda.device_count())
    if note:
        print(note, file=sys.stderr)
    return workers, gpus


def _ours(optimizer: str) -> bool:
    """Whether the optimizer is one of wdbench's built-ins (else a submission, a library's
    class or a plugin: code that may end or poison the process it runs in)."""
    if ":" in optimizer:
        return False
    import optimizers

    try:
        return optimizers.spec(optimizer).source == "builtin"
    except KeyError:
        return False


def _run_local(units: list[TrialBatch], opts: SweepOptions,
               counts: dict[str, int], workers: int, gpus: list[int] | None) -> None:
    """Run the units on local workers. A unit whose worker process died (os._exit, a
    segfault, the out-of-memory killer) fails the trials it was running, with the reason;
    its trials that had not started run again; the other units go on. With one worker the
    built-ins run in this process; a sweep with any other optimizer runs in one worker
    process, so that such a death cannot end the sweep."""
    from bench.executors import crashed, worker
    from bench.executors.local import LocalExecutor
    from bench.executors.process_pool import JobExited, WorkerDied
    from bench.executors.sweep_bar import SweepBar
    from bench.ledger.record_stamps import stamps

    settings = opts.worker_settings()
    # A pool of one where code from outside may end its process (os._exit).
    names = {t.optimizer for unit in units for t in unit.trials}
    isolate = workers <= 1 and not all(_ours(name) for name in names)
    bar = SweepBar(opts.out, [t for unit in units for t in unit.trials], counts,
                   quiet=opts.quiet)
    before = stamps(Ledger(opts.out), [t.id for unit in units for t in unit.trials])
    try:
        with bar.ticking(), LocalExecutor(workers, gpus, isolate=isolate) as executor:
            jobs = executor.map_array(worker.run, [[u] for u in units],
                                      [settings] * len(units))
            unit_of = {job.job_id: unit for job, unit in zip(jobs, units)}
            for job in executor.completed(jobs):
                try:
                    results = job.result()
                except (WorkerDied, JobExited) as died:
                    after = crashed.settle(unit_of[job.job_id], str(died), settings, before,
                                           getattr(died, "pid", None))
                    results = after.summaries
                    for trial in after.again:
                        unit = TrialBatch.of(trial)
                        [again] = executor.map_array(worker.run, [[unit]], [settings])
                        unit_of[again.job_id] = unit
                        jobs.append(again)
                for result in results:
                    bar.account(result)
    finally:
        bar.close()


def _run_slurm(todo: list[Trial], units: list[TrialBatch], opts: SweepOptions,
               counts: dict[str, int]) -> dict[str, int]:
    from bench.executors import slurm
    if not opts.quiet:
        print(f"{sum(counts.values()) + len(todo)} trials: {counts['skipped']} already in "
              f"{opts.out}, {counts['elsewhere']} running or queued elsewhere, "
              f"{len(todo)} to submit", file=sys.stderr)
    if not todo:
        return counts
    sub = slurm.submit(units, opts.executor, opts.worker_settings(),
                       name=f"wdbench-{opts.suite or 'sweep'}")
    if not opts.quiet or opts.detach:
        print(f"submitted job array {sub.array_id}: {len(sub.batches)} task(s), "
              f"{len(todo)} trial(s); logs in {sub.logs}", file=sys.stderr)
    if opts.detach:
        print(sub.array_id)
        counts["pending"] = len(todo)
        return counts
    for status, n in slurm.wait(sub, opts.worker_settings(), opts.executor,
                                opts.quiet).items():
        counts[status] += n
    return counts
