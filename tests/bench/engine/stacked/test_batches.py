"""A stacked group's batches gathered in one index op (`task.gather_train`) are the batches
each member's own fetch and collate would give."""

from __future__ import annotations

import torch

from bench.engine.stacked.models import stack_batches
from tests.bench.engine.stacked.test_models import _mnist, mnist_dir  # noqa: F401


def test_image_gather_equals_the_collated_examples(mnist_dir, tmp_path):  # noqa: F811
    task = _mnist(mnist_dir, tmp_path, width=8)
    dataset = task.train_dataset()
    indices = torch.stack([torch.randperm(len(dataset), generator=torch.Generator()
                                          .manual_seed(seed))[:6] for seed in range(3)])
    want = stack_batches([task.collate([dataset[int(j)] for j in row]) for row in indices])
    got = task.gather_train(indices[:, :6])
    assert list(got) == list(want)
    for key, value in want.items():
        assert got[key].dtype == value.dtype and torch.equal(got[key], value), key
        assert got[key].is_contiguous()
