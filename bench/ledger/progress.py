"""How far each running batch of trials (a lone trial, or a stacked group) has got, beside the
ledger, so that a sweep's progress bar and `wdbench status` see it from the results directory
alone, on this machine or from a SLURM job:

    progress/<batch id>.json   {trials, step, steps, diverged, evaluating, evaluations,
                                updated}

The worker running a batch writes its file through a `ProgressWriter`, which the engine's
loops call after every step (bench/engine/context.py::OnStep) and which writes at most once
every `every_s` seconds (and always at the last step); the file goes when the batch ends. A
file left by a killed worker is harmless: readers keep only what they know runs (a live
claim; a sweep's own batches, written since it started). A file that is no regular file (a
named pipe), too large, or has a field of the wrong type is passed over: a shared results
directory is input. Files are created as `open` creates them (bench/ledger/shared_files.py).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import input_files
from bench.ledger.shared_files import write_text

WRITE_EVERY_S = 1.0  # a running batch's progress file is at most this old
MAX_FILE_BYTES = 1 << 24  # a bound far above any progress file (a stacked group's ids)


@dataclass(frozen=True)
class BatchProgress:
    trials: list[str]  # the batch's trial ids
    step: int  # steps done (a group's members step together)
    steps: int  # steps in all
    diverged: int = 0  # members diverged so far (frozen while the others train)
    evaluating: list[int] | None = None  # [members evaluated, to evaluate] at this step
    evaluations: int = 0  # member evaluations begun so far by this process (final ones too)
    updated: float = 0.0  # time.time() of the write

    @classmethod
    def parsed(cls, data: Any) -> BatchProgress:
        """The progress a file holds; TypeError where a field has the wrong type."""
        progress = cls(**data)
        number = (int, float)
        ok = (isinstance(progress.trials, list) and all(isinstance(t, str) for t in progress.trials)
              and all(isinstance(v, int) and not isinstance(v, bool)
                      for v in (progress.step, progress.steps, progress.diverged,
                                progress.evaluations))
              and isinstance(progress.updated, number) and not isinstance(progress.updated, bool)
              and (progress.evaluating is None
                   or (isinstance(progress.evaluating, list) and len(progress.evaluating) == 2
                       and all(isinstance(v, int) for v in progress.evaluating))))
        if not ok:
            raise TypeError("a progress field of the wrong type")
        return progress

    @property
    def fraction(self) -> float:
        return min(self.step / self.steps, 1.0) if self.steps > 0 else 0.0


class ProgressFiles:
    """The progress files of one results directory."""

    def __init__(self, out: str | os.PathLike) -> None:
        self.dir = Path(out) / "progress"

    def path(self, batch_id: str) -> Path:
        return self.dir / f"{batch_id}.json"

    def write(self, batch_id: str, progress: BatchProgress) -> None:
        """Atomically (write and rename): a reader sees the old file or the new one."""
        self.dir.mkdir(parents=True, exist_ok=True)
        write_text(self.path(batch_id), json.dumps(asdict(progress)), sync=False)

    def remove(self, batch_id: str) -> None:
        self.path(batch_id).unlink(missing_ok=True)

    def read_all(self, since: float | None = None) -> dict[str, BatchProgress]:
        """Batch id -> its progress (with `since`: only files written since then)."""
        if not self.dir.is_dir():
            return {}
        out = {}
        for path in sorted(self.dir.glob("[!.]*.json")):
            try:
                text = input_files.read_text(path, MAX_FILE_BYTES)
                progress = BatchProgress.parsed(json.loads(text))
            except (OSError, ValueError, TypeError):  # Unreadable is a ValueError
                continue  # removed meanwhile, not ours, or damaged
            if since is None or progress.updated >= since:
                out[path.stem] = progress
        return out

    def by_trial(self) -> dict[str, BatchProgress]:
        """Trial id -> the progress of the batch it runs in."""
        return {t: p for p in self.read_all().values() for t in p.trials}


class ProgressWriter:
    """The engine's per-step callback for one batch: cheap on most steps; writes the batch's
    progress file at its first report and its first training step, then at most every
    `every_s` seconds of `clock`, and at the last step; `also(step)` (claim heartbeats) is
    told the step on each write. It counts the member evaluations begun (each report with
    `evaluating`), which a sweep's bar counts as work beside the steps: on a GPT an
    evaluation costs many steps, and a group's first ones come before its first step."""

    def __init__(self, files: ProgressFiles, batch_id: str, trials: list[str],
                 every_s: float = WRITE_EVERY_S, clock: Callable[[], float] = time.monotonic,
                 also: Callable[[int], None] | None = None) -> None:
        self.files, self.batch_id, self.trials = files, batch_id, trials
        self.every_s, self.clock, self.also = every_s, clock, also
        self.last: float | None = None
        self.trained = False  # a report past step 0 was written
        self.writes = 0
        self.evaluations = 0

    def __call__(self, step: int, steps: int, diverged: int,
                 evaluating: tuple[int, int] | None = None) -> None:
        if evaluating is not None:
            self.evaluations += 1
        now = self.clock()
        if self.last is not None and now - self.last < self.every_s and step < steps \
                and (self.trained or step == 0):
            return
        self.last, self.trained = now, self.trained or step > 0
        self.writes += 1
        if self.also is not None:
            self.also(step)
        self.files.write(self.batch_id, BatchProgress(
            self.trials, step, steps, diverged, list(evaluating) if evaluating else None,
            self.evaluations, time.time()))

    def start(self) -> None:
        """A fresh file at step 0 before the batch builds (replacing any left by a killed
        worker)."""
        self.files.write(self.batch_id, BatchProgress(self.trials, 0, 0, updated=time.time()))

    def close(self) -> None:
        self.files.remove(self.batch_id)
