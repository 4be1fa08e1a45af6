"""bench/engine/sampling.py: the data order is a pure function of (seed, step), split across
ranks."""

import pytest
import torch
from torch.utils.data import DataLoader

from bench.engine.sampling import GlobalBatchSampler, batch_stream
from tasks.rows import Rows, collate_rows


def _global_batches(n=10, batch=4, seed=0, steps=6, world=1, start=0):
    ranks = [list(GlobalBatchSampler(n, batch, seed, steps, r, world, start))
             for r in range(world)]
    return [sum((rank[t] for rank in ranks), []) for t in range(steps - start)]


def test_each_epoch_is_a_permutation_with_the_last_incomplete_batch_dropped():
    batches = _global_batches(n=10, batch=4, steps=4)  # 2 batches per epoch, 2 examples dropped
    for epoch in (batches[0:2], batches[2:4]):
        seen = sum(epoch, [])
        assert len(seen) == len(set(seen)) == 8
        assert set(seen) <= set(range(10))
    assert batches[0:2] != batches[2:4]  # a new permutation each epoch


def test_the_order_depends_on_the_seed_only():
    assert _global_batches(seed=3) == _global_batches(seed=3)
    assert _global_batches(seed=3) != _global_batches(seed=4)


@pytest.mark.parametrize("world", [2, 4])
def test_ranks_share_out_the_same_global_batches(world):
    assert _global_batches(world=world) == _global_batches(world=1)
    first = [list(GlobalBatchSampler(10, 4, 0, 6, r, world))[0] for r in range(world)]
    assert all(len(part) == 4 // world for part in first)


def test_resuming_from_a_step_continues_the_same_stream():
    full = _global_batches(steps=7)
    assert _global_batches(steps=7, start=3) == full[3:]
    assert len(GlobalBatchSampler(10, 4, 0, 7, start_step=3)) == 4


@pytest.mark.parametrize("args,message", [
    ((10, 4, 0, 5, 0, 3), "not divisible by 3 processes"),
    ((3, 4, 0, 5), "fewer than one batch"),
])
def test_bad_sizes_are_refused_with_the_fix(args, message):
    with pytest.raises(ValueError, match=message):
        GlobalBatchSampler(*args)


class _Items(torch.utils.data.Dataset):
    """Row-by-row access only (no __getitems__)."""

    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return (self.rows[i],)


@pytest.mark.parametrize("dataset", [
    _Items(torch.arange(60.0).reshape(20, 3)),
    Rows(torch.arange(60.0).reshape(20, 3)),
])
def test_batch_stream_yields_the_data_loaders_batches_and_draws_as_it_does(dataset):
    sampler = GlobalBatchSampler(len(dataset), 4, seed=1, steps=12)
    torch.manual_seed(0)
    expected = list(iter(DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_rows)))
    after_loader = torch.rand(3)
    torch.manual_seed(0)
    stream = batch_stream(dataset, sampler, collate_rows)
    after_stream = torch.rand(3)  # drawn before the first batch: the draw is at creation
    got = list(stream)
    assert torch.equal(after_stream, after_loader)  # the same global-RNG draw, made at once
    assert len(got) == len(expected) == 12
    assert all(torch.equal(a, b) for a, b in zip(got, expected))
