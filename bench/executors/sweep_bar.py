"""A sweep's progress bar, in trial steps, with tqdm's ETA: every step of the trials that
ended, plus each running batch's steps so far (x its trials) read from its progress file
(bench/ledger/progress.py); its postfix says which running batches are evaluating. So the bar
moves with every step of a long stacked group, whichever executor runs it (this process, local
workers, SLURM jobs), instead of only when the group ends."""

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


def trial_steps(trial: Trial) -> int:
    """The trial's training steps (its own, else its task budget's; 1 where the task cannot be
    loaded: its trial fails at once)."""
    if trial.steps:
        return trial.steps
    import tasks

    try:
        return tasks.get(trial.task).budgets[trial.budget].steps
    except (KeyError, AttributeError):
        return 1


class SweepBar:
    """`account` each trial's summary as it ends; `poll` (or `ticking`, from a thread) adds
    the running batches' steps. `counts` (by status) is updated in place."""

    def __init__(self, out: Any, trials: list[Trial], counts: dict[str, int] | None = None,
                 quiet: bool = False, desc: str = "trials") -> None:
        from tqdm.auto import tqdm

        self.files, self.quiet = ProgressFiles(out), quiet
        self.steps = {t.id: trial_steps(t) for t in trials}
        self.counts = counts if counts is not None else {}
        self.since = time.time()  # progress files older than this sweep are not its own
        self.ended: set[str] = set()
        self.shown = 0  # trial steps done, with the running batches'
        self.notes: set[str] = set()  # a fallback's reason, said once
        self.status: dict[str, Any] = {}  # the postfix: counts, and who evaluates
        self.lock = threading.Lock()
        self.bar = tqdm(total=sum(self.steps.values()), desc=f"{desc} ({len(trials)})",
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
            self.ended = set(ids) & set(self.steps)
            if status is not None:
                self.status.update(status)
            self._show()

    def poll(self) -> int:
        """Read the running batches' progress; returns the trial steps done."""
        with self.lock:
            self._show()
            return self.shown

    def _show(self) -> None:
        done = sum(self.steps[i] for i in self.ended)
        evaluating = []
        for progress in self.files.read_all(since=self.since).values():
            mine = [t for t in progress.trials if t in self.steps and t not in self.ended]
            done += progress.step * len(mine)
            if mine and progress.evaluating:
                evaluating.append(f"{progress.evaluating[0] + 1}/{progress.evaluating[1]}")
        self.status.pop("evaluating", None)
        if evaluating:
            self.status["evaluating"] = ",".join(evaluating)
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
