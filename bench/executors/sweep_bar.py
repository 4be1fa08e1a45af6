"""A sweep's progress bar, in trial steps and evaluations, with tqdm's ETA: all the units of
the trials that ended, plus each running batch's steps so far (x its trials) and evaluations
read from its progress file (bench/ledger/progress.py). A trial's evaluations count as a step
each (step 0, every `eval_every`, the last step, and the final test evaluation): on a GPT a
member's evaluation costs many steps, and a stacked group evaluates all its members before its
first step, so without them the bar would stand still for a minute at the start. Its postfix
counts the batches still being built and says which member each evaluating batch is at. So
the bar moves with every step and evaluation of a long stacked group, whichever executor runs
it (this process, local workers, SLURM jobs), instead of only when the group ends."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.ledger.progress import ProgressFiles
from bench.trial.config import Trial

POLL_S = 1.0  # how often the bar reads the progress files


def trial_schedule(trial: Trial) -> tuple[int, int]:
    """(training steps, steps between evaluations): the trial's own, else its task budget's;
    (1, 1) where the task cannot be loaded (its trial fails at once)."""
    import tasks

    try:
        budget = tasks.get(trial.task).budgets[trial.budget]
    except (KeyError, AttributeError):
        return 1, 1
    return trial.steps or budget.steps, trial.eval_every or budget.eval_every


def points_before(step: int, steps: int, every: int) -> int:
    """Evaluation points of a trial before `step` (bench/engine/context.py::evaluates_at):
    step 0, every `every` steps, the last step."""
    if step <= 0:
        return 0
    below = min(step - 1, steps)
    return 1 + below // every + (1 if below == steps and steps % every else 0)


def trial_work(trial: Trial) -> int:
    """The bar's units for one trial: its training steps and its evaluations (every point up
    to its last step, then the test split's)."""
    steps, every = trial_schedule(trial)
    return steps + points_before(steps + 1, steps, every) + 1


class SweepBar:
    """`account` each trial's summary as it ends; `poll` (or `ticking`, from a thread) adds
    the running batches' steps. `counts` (by status) is updated in place."""

    def __init__(self, out: Any, trials: list[Trial], counts: dict[str, int] | None = None,
                 quiet: bool = False, desc: str = "trials") -> None:
        from tqdm.auto import tqdm

        self.files, self.quiet = ProgressFiles(out), quiet
        self.schedule = {t.id: trial_schedule(t) for t in trials}
        self.work = {t.id: trial_work(t) for t in trials}
        self.counts = counts if counts is not None else {}
        self.since = time.time()  # progress files older than this sweep are not its own
        self.ended: set[str] = set()
        self.shown = 0  # units done (steps, evaluations), with the running batches'
        self.notes: set[str] = set()  # a fallback's reason, said once
        self.status: dict[str, Any] = {}  # the postfix: counts, and who evaluates
        self.lock = threading.Lock()
        self.bar = tqdm(total=sum(self.work.values()), desc=f"{desc} ({len(trials)})",
                        unit="step", unit_scale=True, disable=quiet or not trials,
                        dynamic_ncols=True)

    @property
    def n(self) -> int:
        return self.shown

    def account(self, result: dict[str, Any]) -> None:
        """One trial ended (a worker's summary): count it, say what needs saying."""
        from tqdm.auto import tqdm

        with self.lock:
            note = result.get("note")
            if note and note not in self.notes and not self.quiet:
                self.notes.add(note)
                tqdm.write(note, file=sys.stderr)
            status = {"claimed": "elsewhere", "skipped": "skipped"}.get(result["status"],
                                                                        result["status"])
            self.counts[status] = self.counts.get(status, 0) + 1
            self.ended.add(result["id"])
            self.status.update({k: v for k, v in self.counts.items() if k != "skipped" and v})
            self._show()
            if result["status"] == "failed":
                tqdm.write(f"trial {result['id']} ({result['optimizer']}) failed: "
                           f"{' '.join(result['error'])}", file=sys.stderr)

    def set_ended(self, ids: set[str], status: dict[str, int] | None = None) -> None:
        """The trials known to have ended (SLURM: their records), and the bar's postfix."""
        with self.lock:
            self.ended = set(ids) & set(self.work)
            if status is not None:
                self.status.update(status)
            self._show()

    def poll(self) -> int:
        """Read the running batches' progress; returns the units done (steps, evaluations)."""
        with self.lock:
            self._show()
            return self.shown

    def _show(self) -> None:
        done = sum(self.work[i] for i in self.ended)
        evaluating, building = [], 0
        for progress in self.files.read_all(since=self.since).values():
            mine = [t for t in progress.trials if t in self.work and t not in self.ended]
            if not mine:
                continue
            # Evaluations are counted per batch (a member's share where some have ended); a
            # batch resumed from a checkpoint counts those before it from its step.
            steps, every = self.schedule[mine[0]]
            done += progress.step * len(mine) + max(
                progress.evaluations * len(mine) // len(progress.trials),
                points_before(progress.step, steps, every) * len(mine))
            if progress.steps == 0:  # written before the batch was built (task, members)
                building += 1
            if progress.evaluating:
                evaluating.append(f"{progress.evaluating[0] + 1}/{progress.evaluating[1]}")
        for key, value in (("building", building), ("evaluating", ",".join(evaluating))):
            self.status.pop(key, None)
            if value:
                self.status[key] = value
        # Never back: a batch's file goes a moment before its trials are accounted.
        self.shown = max(self.shown, done)
        self.bar.n = self.shown
        self.bar.set_postfix(self.status, refresh=False)
        self.bar.refresh()

    @contextmanager
    def ticking(self, every_s: float = POLL_S) -> Iterator[SweepBar]:
        """`poll` every `every_s` seconds from a thread while the sweep waits or trains."""
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(every_s):
                self.poll()

        thread = threading.Thread(target=tick, name="wdbench-sweep-bar", daemon=True)
        if not self.bar.disable:
            thread.start()
        try:
            yield self
        finally:
            stop.set()
            if thread.is_alive():
                thread.join()

    def close(self) -> None:
        self.bar.close()
