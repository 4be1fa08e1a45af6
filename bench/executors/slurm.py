"""The SLURM executor: one job array (through submitit) for a sweep's batches.

submitit's `SlurmExecutor` is the executor (bench/executors/protocol.py); each array task runs
the worker's one entry point (bench/executors/worker.py::run) on its batches, pickled as they
are: one stacked group (bench/engine/stacked: its trials in one process, one tensor op for
all), or `trials_per_job` lone trials one after another; a trial with `processes=N` runs as
N tasks of its job (DDP from SLURM's environment). On the time-limit or preemption signal
submitit's Checkpointable protocol requeues the task, which resumes its trials from their
last checkpoints (`checkpoint_every`)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import submitit

from bench.errors import UsageError
from bench.executors import squeue, submissions, worker
from bench.executors.claimed import WorkerSettings, claim_store
from bench.ledger.record_stamps import Stamp, stamps, written_since
from bench.ledger.store import Ledger
from bench.trial.batch import TrialBatch
from bench.trial.config import Trial
from bench.trial.executor_options import REQUEUE_WARNING_S, ExecutorOptions


class Requeueable(submitit.helpers.Checkpointable):
    """`fn` as an array task runs it: requeued as is on timeout or preemption (its trials
    resume from their checkpoints, finished ones are skipped)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


class SlurmExecutor(submitit.SlurmExecutor):
    """submitit's, with every submitted function requeueable."""

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return super().submit(Requeueable(fn), *args, **kwargs)

    def map_array(self, fn: Callable[..., Any], *iterables: Any) -> list[Any]:
        return super().map_array(Requeueable(fn), *iterables)


def check_cluster(options: ExecutorOptions, budget_min_s: float | None) -> None:
    """Bad input before anything is submitted or written: one line, exit 2."""
    try:
        parts = squeue.partitions()
    except squeue.SlurmUnavailable as err:
        raise UsageError(f"--executor slurm: no SLURM cluster reachable ({err}); start one "
                         "or use --executor local") from None
    names = [p.name for p in parts]
    chosen = next((p for p in parts if p.name == options.partition), None) if \
        options.partition else next((p for p in parts if p.default), parts[0] if parts else None)
    if chosen is None:
        raise UsageError(f"unknown SLURM partition {options.partition!r}; this cluster has: "
                         f"{', '.join(names) or 'none'}")
    if (options.gpus or 0) > chosen.gpus:
        have = f"at most {chosen.gpus} per node" if chosen.gpus else "none"
        raise UsageError(f"{options.gpus} GPU(s) per trial requested but partition "
                         f"{chosen.name!r} has {have} (gres); pass --gpus 0 or another "
                         "--partition")
    if budget_min_s is not None and options.time_min is not None \
            and options.time_min * 60 * 1.0 < budget_min_s:
        raise UsageError(f"time limit {options.time_min} min is shorter than this budget's "
                         f"measured trial time ({budget_min_s / 60:.1f} min); raise --time-min")


@dataclass(frozen=True)
class Submitted:
    array_id: str
    jobs: list[Any]
    batches: dict[str, list[str]]  # SLURM job id of each task ('12_3', or '12') -> trial ids
    logs: Path
    trials: dict[str, Trial]  # by id
    # Their records before the submission (bench/ledger/record_stamps.py): a failed or stale
    # record being rerun is no result of this submission until it is replaced.
    before: dict[str, Stamp | None] = field(default_factory=dict)

    def written(self, ledger: Ledger) -> set[str]:
        """The trials with a record written since the submission."""
        return written_since(ledger, {i: self.before.get(i) for i in self.trials})


def array_tasks(units: list[TrialBatch], per_job: int) -> list[list[TrialBatch]]:
    """The batches of each array task: a stacked group alone, lone trials `per_job` a task."""
    singles = [u for u in units if not u.stacked]
    return ([[u] for u in units if u.stacked]
            + [singles[i:i + per_job] for i in range(0, len(singles), per_job)])


def executor(options: ExecutorOptions, logs: Path, name: str) -> SlurmExecutor:
    """A SLURM executor writing its logs under `logs`, with the sweep's resources."""
    ex = SlurmExecutor(folder=logs / "%j", max_num_timeout=options.max_requeues)
    mem_mb = int((options.mem_gb or 1) * 1024)
    params: dict[str, Any] = {
        "job_name": name, "time": int(options.time_min or 60),
        "cpus_per_task": int(options.cpus or 1), "ntasks_per_node": options.processes,
        "nodes": 1, "mem": f"{mem_mb}M", "array_parallelism": options.array_parallelism,
        # submitit's default warning 90 s before the limit (SLURM may send it up to 60 s
        # early): the task requeues and its trial loses only the steps since its last
        # checkpoint.
        "signal_delay_s": REQUEUE_WARNING_S,
    }
    if options.partition:
        params["partition"] = options.partition
    if options.gpus:
        params["gpus_per_node"] = options.gpus
    if options.sbatch:
        params["additional_parameters"] = dict(options.sbatch)
    ex.update_parameters(**params)
    return ex


def submit(units: list[TrialBatch], options: ExecutorOptions, settings: WorkerSettings,
           name: str = "wdbench") -> Submitted:
    """One job array for the batches (`array_tasks`), recorded beside the ledger
    (bench/executors/submissions.py)."""
    out = Path(settings.out)
    logs = out / "slurm"
    tasks = array_tasks(units, options.trials_per_job)
    before = stamps(Ledger(out), [t.id for unit in units for t in unit.trials])
    try:
        jobs = executor(options, logs, name).map_array(worker.run, tasks,
                                                       [settings] * len(tasks))
    except Exception as err:  # sbatch refused the request (resources, account, QOS)
        message = str(err).strip().splitlines()
        raise UsageError(f"sbatch refused the job array: {message[-1] if message else err}"
                         ) from None
    array_id = str(jobs[0].job_id).split("_")[0]
    # A one-task array is submitted as a plain job: use the ids submitit got back.
    ids = {str(job.job_id): [i for batch in task for i in batch.trial_ids]
           for job, task in zip(jobs, tasks)}
    submissions.write_submission(out, array_id, ids, str(logs))
    return Submitted(array_id, jobs, ids, logs,
                     {t.id: t for unit in units for t in unit.trials}, before)


def wait(sub: Submitted, settings: WorkerSettings, options: ExecutorOptions,
         quiet: bool) -> dict[str, int]:
    """Show finished/running/pending/failed until every array task has ended; then explain
    failed tasks in their trials' records. Returns counts of this submission's trials."""
    from bench.executors.sweep_bar import SweepBar

    ledger = Ledger(settings.out)
    store = claim_store(settings)
    ids = [i for batch in sub.batches.values() for i in batch]
    bar = SweepBar(settings.out, [sub.trials[i] for i in ids], quiet=quiet,
                   desc=f"job {sub.array_id}")
    states: dict[str, squeue.TaskState] = {}
    gone_since: dict[str, float] = {}
    try:
        while True:
            states = squeue.array_states(sub.array_id)
            queued = squeue.live_job_ids() or set()
            finished = sub.written(ledger) & set(ids)
            running = {c.trial_id for c in store.live()} & set(ids) - finished
            now = time.time()
            for task in sub.batches:
                if task in queued:
                    gone_since.pop(task, None)
                else:
                    gone_since.setdefault(task, now)
            # Ended: SLURM no longer has the task and accounting says how it ended (a
            # requeued task is back in the queue, whatever sacct said meanwhile), or
            # accounting stays silent for a minute after the task left the queue.
            ended = [i for i in sub.batches if i in gone_since and (
                (i in states and states[i].terminal) or now - gone_since[i] > 60)]
            failed = sum(1 for i in finished if ledger.read(i)["status"] == "failed")
            # With the running batches' steps from their progress files (bench/ledger).
            bar.set_ended(finished, {"running": len(running),
                                     "pending": len(ids) - len(finished) - len(running),
                                     "failed": failed})
            if len(finished) == len(ids) or len(ended) == len(sub.batches):
                break
            time.sleep(options.poll_s)
    finally:
        bar.close()
    left_pending = explain_failures(sub, states, settings)
    for line in left_pending:
        print(line, file=sys.stderr)
    counts = {"done": 0, "diverged": 0, "failed": 0, "pending": 0}
    written = sub.written(ledger)
    for i in ids:
        counts[ledger.read(i)["status"] if i in written else "pending"] += 1
    return counts


def explain_failures(sub: Submitted, states: dict[str, squeue.TaskState],
                     settings: WorkerSettings) -> list[str]:
    """A failed array task's trials without a record of this submission get a `failed`
    record saying why in one line (bench/executors/crashed.py); a cancelled task's trials
    stay pending (the next sweep runs them). Returns messages."""
    from bench.executors.crashed import record_failed

    ledger, messages = Ledger(settings.out), []
    written = sub.written(ledger)
    logs = {str(job.job_id): str(job.paths.stderr) for job in sub.jobs}
    for task_id, trial_ids in sub.batches.items():
        state = states.get(task_id)
        if state is None or not state.failed:
            continue
        log = logs[task_id]
        line = state.explain(log)
        for trial_id in trial_ids:
            if trial_id in written:
                continue
            if state.state == "CANCELLED":
                messages.append(f"trial {trial_id} left pending: {line}")
            elif record_failed(sub.trials[trial_id], line, settings):
                messages.append(f"trial {trial_id} failed: {line}")
    return messages


def measured_trial_s(out: Path, trial: Trial) -> float | None:
    """The shortest finished trial of this task and budget already in the ledger (seconds)."""
    times = [r.get("timing", {}).get("wall_s") for r in Ledger(out).records()
             if r.get("status") == "done" and r["config"].get("task") == trial.task
             and r["config"].get("budget") == trial.budget]
    times = [t for t in times if isinstance(t, (int, float))]
    return min(times) if times else None
