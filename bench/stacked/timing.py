"""Seconds per stacked forward + backward of T trials against T lone forward + backwards, on
the same per-trial batches: the model side of the stacked speed-up (the optimizer step is
timed elsewhere). For `make perf`; nothing here asserts a timing."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from bench.stacked.models import batch_to, stack_batches, stack_models
from tasks.base import Task


@dataclass(frozen=True)
class StackedTiming:
    trials: int
    stacked_s: float  # wall seconds per stacked forward + backward of all T members
    lone_s: float  # wall seconds per round of T lone forward + backwards (one per trial)
    stacked_cpu_s: float  # the same in process CPU seconds (all threads)
    lone_cpu_s: float

    @property
    def speedup(self) -> float:
        """Lone wall time over stacked wall time (> 1: stacking wins)."""
        return self.lone_s / self.stacked_s

    @property
    def per_trial_step_s(self) -> float:
        """Stacked wall seconds per trial per forward + backward."""
        return self.stacked_s / self.trials


def time_forward_backward(task: Task, seeds: Sequence[int], device: torch.device | str = "cpu",
                          repeats: int = 20, warmup: int = 2) -> StackedTiming:
    """Mean seconds of `repeats` stacked forward + backwards (after `warmup`) against the
    same number of rounds of lone ones, trial i on its own batch in both."""
    if repeats < 1 or warmup < 0:
        raise ValueError("time_forward_backward needs repeats >= 1 and warmup >= 0")
    device = torch.device(device)
    stacked = stack_models(task, seeds, device)
    lone = [task.build_model(int(s)).to(device).train() for s in seeds]
    batches = [batch_to(b, device) for b in trial_batches(task, len(seeds))]
    stacked_batch = stack_batches(batches)

    def stacked_step() -> None:
        stacked.losses(stacked_batch).sum().backward()
        for p in stacked.params.values():
            p.grad = None

    def lone_round() -> None:
        for model, batch in zip(lone, batches):
            task.loss(model, batch).backward()
            model.zero_grad(set_to_none=True)

    s_wall, s_cpu = _clock(stacked_step, device, repeats, warmup)
    l_wall, l_cpu = _clock(lone_round, device, repeats, warmup)
    return StackedTiming(len(seeds), s_wall, l_wall, s_cpu, l_cpu)


def trial_batches(task: Task, n_trials: int) -> list[Any]:
    """One training batch of the budget's size per trial (consecutive examples, wrapping)."""
    dataset = task.train_dataset()
    size = task.budget.batch_size
    return [task.collate([dataset[(i * size + j) % len(dataset)] for j in range(size)])
            for i in range(n_trials)]


def _clock(fn: Callable[[], None], device: torch.device, repeats: int, warmup: int
           ) -> tuple[float, float]:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        fn()
    sync()
    return (time.perf_counter() - wall) / repeats, (time.process_time() - cpu) / repeats

