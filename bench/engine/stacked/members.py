"""A stacked group's members as ordinary trial contexts, and their per-member loss watch.

Each member gets the `TrialContext` its trial would get alone (bench/engine/runner.py::build),
except
that its model is the member module whose parameters alias its slices of the stacked tensors
and its schedule is a view of the group's one multiplier. So evaluation, the probe-gradient
constraint metrics, task.extra_metrics and the record assembly run on it unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from accelerate import Accelerator
from accelerate.utils import send_to_device
from torch import Tensor

import optimizers
from bench.engine import evaluation
from bench.engine.param_groups import decay_setup
from bench.engine.runner import TrialContext
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
                   mask: dict[str, bool], probe: list, multiplier: Callable[[int], float]
                   ) -> TrialContext:
    """The context `build` would make for `trial`, around the member `model`.

    The optimizer here is the trial's own, built on the member's parameters only for what the
    record says of it (its decay style, each tensor's geometry); it is never stepped."""
    spec = optimizers.spec(trial.optimizer)
    setup = decay_setup(trial, task, spec, model, mask)
    steps = trial.steps or task.budget.steps
    ctx = TrialContext(trial, task, spec, accelerator, model, setup.optimizer,
                       MemberSchedule(trial.lr, multiplier), setup.decayed, setup.style,
                       setup.mask_info, steps, trial.eval_every or task.budget.eval_every,
                       setup.radius, setup.metric_radius, probe)
    # The group loop calls ctx.rotation.before(step) itself: this optimizer never steps.
    ctx.rotation = evaluation.watch_rotation(ctx)
    return ctx


def device_probe(task: Task, device: torch.device) -> list:
    return [send_to_device(b, device) for b in task.probe_batches()]


class StackedWatch:
    """bench/engine/divergence.py's watch for T losses a step: the first non-finite step of each
    member and each one's loss sum (fp64), read every `check_every` steps (every step on
    CPU, where reading costs nothing, as the single-trial HostWatch does)."""

    def __init__(self, size: int, device: torch.device) -> None:
        from bench.engine.divergence import CHECK_EVERY

        self.host = device.type == "cpu"
        self.check_every = 1 if self.host else CHECK_EVERY
        self.count = 0
        if self.host:
            self.first_bad: list[int | None] = [None] * size
            self.sums = [0.0] * size
        else:
            self.bad_t = torch.full((size,), -1, dtype=torch.int64, device=device)
            dtype = torch.float32 if device.type == "mps" else torch.float64
            self.sums_t = torch.zeros(size, dtype=dtype, device=device)

    def add(self, step: int, losses: Tensor) -> None:
        self.count += 1
        if self.host:
            for i, value in enumerate(losses.tolist()):
                if self.first_bad[i] is None and not math.isfinite(value):
                    self.first_bad[i] = step
                self.sums[i] += value
            return
        new = ~torch.isfinite(losses) & (self.bad_t == -1)
        self.bad_t = torch.where(new, step, self.bad_t)
        self.sums_t += losses.to(self.sums_t.dtype)

    def diverged_at(self) -> list[int | None]:
        if self.host:
            return self.first_bad
        return [None if s == -1 else int(s) for s in self.bad_t.tolist()]

    def drain(self) -> tuple[list[float], int]:
        count, self.count = self.count, 0
        if self.host:
            sums, self.sums = self.sums, [0.0] * len(self.sums)
            return sums, count
        sums = [float(v) for v in self.sums_t.tolist()]
        self.sums_t.zero_()
        return sums, count
