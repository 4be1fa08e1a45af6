"""The runner's per-step shortcuts on CPU do what the general paths do."""

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader

from bench.engine import runner
from bench.engine.sampling import GlobalBatchSampler
from bench.trial.config import Trial


def test_plain_autograd_only_where_accelerate_would_add_nothing():
    assert runner._backward(Accelerator()) is torch.Tensor.backward
    accumulating = Accelerator(gradient_accumulation_steps=2)
    assert runner._backward(accumulating) == accumulating.backward


def test_cpu_training_batches_are_the_data_loaders():
    trial = Trial(task="quadratic", optimizer="adamw", lr=0.05, weight_decay=2.0,
                  budget="smoke", seed=3, task_options=(("noise", 0.5),))
    ctx = runner.build(trial, Accelerator())
    got = runner._train_batches(ctx, start_step=7)
    sampler = GlobalBatchSampler(len(ctx.task.train_dataset()), ctx.task.budget.batch_size,
                                 trial.seed, ctx.steps, start_step=7)
    expected = DataLoader(ctx.task.train_dataset(), batch_sampler=sampler,
                          collate_fn=ctx.task.collate)
    pairs = list(zip(got, expected, strict=True))
    assert len(pairs) == ctx.steps - 7
    assert all(torch.equal(a, b) and a.shape == (8, 20) for a, b in pairs)
    assert any(a.abs().sum() > 0 for a, _ in pairs)  # really the noisy rows
