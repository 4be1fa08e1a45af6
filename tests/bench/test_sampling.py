"""bench/sampling.py: the data order is a pure function of (seed, step), split across ranks."""

import pytest

from bench.sampling import GlobalBatchSampler


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
