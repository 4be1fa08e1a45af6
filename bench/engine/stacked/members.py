"""A stacked group's members as ordinary trial contexts.

Each member gets the `TrialContext` its trial would get alone, from the same function
(bench/engine/context.py::make_context), except that its model is the member module whose
parameters alias its slices of the stacked tensors and its schedule is a view of the group's
one multiplier. So evaluation, the probe-gradient constraint metrics, task.extra_metrics and
the record assembly (bench/engine/record.py) run on it unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from accelerate import Accelerator

import optimizers
from bench.engine.context import TrialContext, make_context
from bench.engine.param_groups import decay_setup
from bench.trial.config import Trial
from tasks.base import Task


class MemberSchedule:
    """What the runner reads of its LambdaLR, for one member: lr_max x the group's multiplier
    (the same product LambdaLR forms, so every recorded lr is bit for bit the same)."""

    def __init__(self, lr: float, multiplier: Callable[[int], float]) -> None:
        self.lr, self.multiplier, self.last_epoch = lr, multiplier, 0

    def get_last_lr(self) -> list[float]:
        return [self.lr * self.multiplier(self.last_epoch)]

    def step(self) -> None:
        self.last_epoch += 1


def member_context(trial: Trial, task: Task, accelerator: Accelerator, model: torch.nn.Module,
                   mask: dict[str, bool], probe: list[Any], multiplier: Callable[[int], float]
                   ) -> TrialContext:
    """The context `build` would make for `trial`, around the member `model`.

    The optimizer here is the trial's own, built on the member's parameters only for what the
    record says of it (its decay style, each tensor's geometry); it is never stepped."""
    setup = decay_setup(trial, task, optimizers.spec(trial.optimizer), model, mask)
    return make_context(trial, task, accelerator, model, setup,
                        MemberSchedule(trial.lr, multiplier), probe)
