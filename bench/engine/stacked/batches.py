"""A stacked group's training batches: member i's batch at step t is exactly the one its own
DataLoader would give it alone (its own GlobalBatchSampler, its seed), stacked along a new
leading trial dimension.

The loader's work is done without a DataLoader per member (which costs ~40 µs a batch, more
than a whole step of the small tasks): the sampler's indices, then the fetch a single-process
DataLoader does (`dataset.__getitems__` or one `dataset[i]` each) and the task's collate; a
task with `gather_train(indices)` (the quadratics) gathers all T batches in one index op.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from bench.engine.context import TrialContext
from bench.engine.sampling import GlobalBatchSampler


class GroupBatches:
    def __init__(self, members: Sequence[TrialContext], start_step: int) -> None:
        from bench.engine.stacked.models import stack_batches

        first = members[0]
        self.task, self.stack = first.task, stack_batches
        self.dataset = self.task.train_dataset()
        acc = first.accelerator
        micro = self.task.budget.batch_size  # grad_accum is 1 in a group (grouping.py)
        self.sampler_objects = [GlobalBatchSampler(len(self.dataset), micro, ctx.trial.seed,
                                                   ctx.steps, acc.process_index,
                                                   acc.num_processes, start_step)
                                for ctx in members]
        self.samplers = [iter(s) for s in self.sampler_objects]
        self.gather = getattr(self.task, "gather_train", None)
        self.getitems = getattr(self.dataset, "__getitems__", None)
        self.step, self.epoch, self.perms = start_step, -1, torch.empty(0)

    def __iter__(self) -> GroupBatches:
        return self

    def __next__(self) -> Any:
        if self.gather is not None:
            return self.gather(self._indices())
        indices = [next(s) for s in self.samplers]
        return self.stack([self.task.collate(self._fetch(i)) for i in indices])

    def _indices(self) -> torch.Tensor:
        """The (T, B) indices every member's own sampler gives at this step, as one slice of
        the members' stacked epoch permutations (the same numbers as `GlobalBatchSampler`,
        tested), instead of T generators and a list-to-tensor copy a step."""
        first = self.sampler_objects[0]
        epoch, i = divmod(self.step, first.per_epoch)
        if epoch != self.epoch:
            self.epoch = epoch
            self.perms = torch.stack([s._epoch(epoch) for s in self.sampler_objects])
        self.step += 1
        lo = i * first.batch + first.rank * first.local
        return self.perms[:, lo:lo + first.local]

    def _fetch(self, indices: list[int]) -> list[Any]:
        if self.getitems:  # as torch's _MapDatasetFetcher
            return self.getitems(indices)
        return [self.dataset[i] for i in indices]
