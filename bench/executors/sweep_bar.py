"""A sweep's progress bar, in trials, with tqdm's ETA: the trials that ended, plus each running
batch's share (steps done / steps x its trials) read from its progress file
(bench/ledger/progress.py). So the bar moves while a long stacked group runs, whichever
executor runs it (this process, local workers, SLURM jobs), instead of only when it ends."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.ledger.progress import ProgressFiles

POLL_S = 1.0  # how often the bar reads the progress files
FORMAT = ("{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total_fmt} "
          "[{elapsed}<{remaining}{postfix}]")


class SweepBar:
    """`account` each trial's summary as it ends; `poll` (or `ticking`, from a thread) adds
    the running batches' progress. `counts` (by status) is updated in place."""

    def __init__(self, out: Any, trial_ids: list[str], counts: dict[str, int] | None = None,
                 quiet: bool = False, desc: str = "trials") -> None:
        from tqdm.auto import tqdm

        self.files, self.ids, self.quiet = ProgressFiles(out), set(trial_ids), quiet
        self.counts = counts if counts is not None else {}
        self.since = time.time()  # progress files older than this sweep are not its own
        self.ended: set[str] = set()
        self.shown = 0.0  # trials, with the running batches' shares
        self.notes: set[str] = set()  # a fallback's reason, said once
        self.lock = threading.Lock()
        self.bar = tqdm(total=len(trial_ids), desc=desc, disable=quiet or not trial_ids,
                        dynamic_ncols=True, bar_format=FORMAT)

    @property
    def n(self) -> float:
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
            self.bar.set_postfix({k: v for k, v in self.counts.items()
                                  if k != "skipped" and v}, refresh=False)
            self._show(self._progress())
            if result["status"] == "failed":
                tqdm.write(f"trial {result['id']} ({result['optimizer']}) failed: "
                           f"{' '.join(result['error'])}", file=sys.stderr)

    def set_ended(self, ids: set[str], postfix: dict[str, int] | None = None) -> None:
        """The trials known to have ended (SLURM: their records), and the bar's postfix."""
        with self.lock:
            self.ended = set(ids) & self.ids
            if postfix is not None:
                self.bar.set_postfix(postfix, refresh=False)
            self._show(self._progress())

    def poll(self) -> float:
        """Read the running batches' progress; returns the bar's count (trials, fractional)."""
        with self.lock:
            self._show(self._progress())
            return self.shown

    def _progress(self) -> float:
        running = 0.0
        for progress in self.files.read_all(since=self.since).values():
            mine = [t for t in progress.trials if t in self.ids and t not in self.ended]
            running += progress.fraction * len(mine)
        return len(self.ended) + running

    def _show(self, n: float) -> None:
        # Never back: a batch's file goes a moment before its trials are accounted. tqdm's
        # ETA is then (total - n) / (n / elapsed).
        self.shown = max(self.shown, n)
        self.bar.n = round(self.shown, 3)
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
