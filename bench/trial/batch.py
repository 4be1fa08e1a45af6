"""One unit of work: the trials one process runs together. A lone trial is a batch of one; a
stacked group (bench/engine/stacked) a batch of T trials that differ only in lr, weight decay
(or tau) and seed, run as one stacked model. Executors hand batches to workers (pickled as
they are: trials are frozen dataclasses), the engine runs them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bench.trial.config import Trial


@dataclass(frozen=True)
class TrialBatch:
    trials: tuple[Trial, ...]

    def __post_init__(self) -> None:
        if not self.trials:
            raise ValueError("a TrialBatch holds at least one trial")

    @classmethod
    def of(cls, trial: Trial) -> TrialBatch:
        """A lone trial as a batch of one."""
        return cls((trial,))

    @property
    def size(self) -> int:
        return len(self.trials)

    @property
    def stacked(self) -> bool:
        """Whether its trials run as one stacked model (more than one trial)."""
        return len(self.trials) > 1

    @property
    def id(self) -> str:
        """'g' + a hash of the member ids: the name of a stacked group's checkpoint directory
        and of a running batch's progress file (bench/ledger/progress.py)."""
        blob = ",".join(t.id for t in self.trials)
        return "g" + hashlib.sha256(blob.encode()).hexdigest()[:12]

    @property
    def trial_ids(self) -> list[str]:
        return [t.id for t in self.trials]
