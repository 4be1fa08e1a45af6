"""Training-data order: a pure function of (seed, step), identical for every optimizer (paired
comparisons), for any number of processes (each takes its slice of the same global batch),
and trivially resumable from any step."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler


class GlobalBatchSampler(Sampler[list[int]]):
    """Yields this process's share of global batches, epoch after epoch, from `start_step`.

    Epoch e is a permutation of the dataset drawn from seed (seed, e); global batch t of the
    run is a contiguous slice of it (last incomplete batch of an epoch dropped).
    """

    def __init__(self, dataset_size: int, global_batch: int, seed: int, steps: int,
                 rank: int = 0, world: int = 1, start_step: int = 0) -> None:
        if global_batch % world:
            raise ValueError(f"batch size {global_batch} is not divisible by {world} processes")
        if dataset_size < global_batch:
            raise ValueError(f"dataset has {dataset_size} examples, fewer than one batch "
                             f"({global_batch}); lower the batch size")
        self.n, self.batch, self.seed = dataset_size, global_batch, seed
        self.steps, self.rank, self.world, self.start = steps, rank, world, start_step
        self.per_epoch = dataset_size // global_batch
        self.local = global_batch // world

    def __len__(self) -> int:
        return self.steps - self.start

    def _epoch(self, epoch: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.n, generator=gen)

    def __iter__(self) -> Iterator[list[int]]:
        epoch, perm = -1, None
        for step in range(self.start, self.steps):
            e, i = divmod(step, self.per_epoch)
            if e != epoch:
                epoch, perm = e, self._epoch(e)
            lo = i * self.batch + self.rank * self.local
            yield perm[lo:lo + self.local].tolist()


def batch_stream(dataset: Dataset, sampler: Sampler[list[int]],
                 collate: Callable[[Any], Any]) -> Iterator[Any]:
    """The batches a single-process `DataLoader(dataset, batch_sampler=sampler,
    collate_fn=collate)` yields, without its per-batch machinery (~15 µs a step, more than a
    whole step of the small tasks' arithmetic). Same fetch (`__getitems__` where the dataset
    has one), same collate, and the one draw from torch's default generator that a DataLoader
    iterator makes for its (unused) worker seed, so any later global-RNG use is unchanged."""
    torch.empty((), dtype=torch.int64).random_()  # now, as DataLoader's iter() does
    getitems = getattr(dataset, "__getitems__", None)
    return (collate(getitems(indices) if getitems else [dataset[i] for i in indices])
            for indices in sampler)
