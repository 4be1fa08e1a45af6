"""The training loop's loss bookkeeping without a host sync per step, for one trial or the T
members of a stacked group (a watch of size 1 or T).

On a GPU, reading the loss (`.item()`) every step makes the host wait for the device, so the
next step cannot be queued while this one runs. `DeviceWatch` keeps on the device what the loop
needs from each step's losses: each trial's first step whose loss was non-finite (exact,
though it is read only every `CHECK_EVERY` steps, at evaluation points and before
checkpoints) and its running train-loss sum. Training goes on for at most `CHECK_EVERY - 1`
steps past a divergence before the read notices it; the record still names the first bad
step.

On CPU a read costs nothing (there is no queue to wait for), so `HostWatch` reads every step,
as the loop always did; `watch_for` picks one by device.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

CHECK_EVERY = 50  # steps between reads of the device-side divergence flag
_NONE = -1  # first_bad before any non-finite loss


class DeviceWatch:
    """Divergence and loss sums of `size` trials as device tensors; read only when asked."""

    check_every = CHECK_EVERY

    def __init__(self, device: torch.device, size: int = 1) -> None:
        self.first_bad = torch.full((size,), _NONE, dtype=torch.int64, device=device)
        # fp64 where the device has it: a sum over thousands of steps between evaluations.
        sum_dtype = torch.float32 if device.type == "mps" else torch.float64
        self.loss_sum = torch.zeros(size, dtype=sum_dtype, device=device)
        self.count = 0

    def add(self, step: int, losses: Tensor) -> None:
        """Record the losses of training step `step` (1-based): 0-dim for one trial, else
        one per trial; queues work, never waits for it."""
        new = ~torch.isfinite(losses) & (self.first_bad == _NONE)
        self.first_bad = torch.where(new, step, self.first_bad)
        self.loss_sum += losses.to(self.loss_sum.dtype)
        self.count += 1

    def diverged_at(self) -> list[int | None]:
        """Each trial's first step with a non-finite loss, or None (one host sync)."""
        return [None if s == _NONE else s for s in self.first_bad.tolist()]

    def drain(self) -> tuple[list[float], int]:
        """(each trial's loss sum, steps) since the last drain (one host sync); start over."""
        sums, count = [float(v) for v in self.loss_sum.tolist()], self.count
        self.loss_sum.zero_()
        self.count = 0
        return sums, count


class HostWatch:
    """The same bookkeeping read every step: for CPU, where reading costs nothing."""

    check_every = 1

    def __init__(self, size: int = 1) -> None:
        self.first_bad: list[int | None] = [None] * size
        self.loss_sum = [0.0] * size
        self.count = 0

    def add(self, step: int, losses: Tensor) -> None:
        self.count += 1
        if not losses.dim():  # one trial: its loss alone (the lone loop's step, kept short)
            value = losses.item()
            if self.first_bad[0] is None and not math.isfinite(value):
                self.first_bad[0] = step
            self.loss_sum[0] += value
            return
        for i, value in enumerate(losses.tolist()):
            if self.first_bad[i] is None and not math.isfinite(value):
                self.first_bad[i] = step
            self.loss_sum[i] += value

    def diverged_at(self) -> list[int | None]:
        return self.first_bad

    def drain(self) -> tuple[list[float], int]:
        sums, count = self.loss_sum, self.count
        self.loss_sum, self.count = [0.0] * len(sums), 0
        return sums, count


class Diverged(Exception):
    def __init__(self, step: int) -> None:
        super().__init__(f"non-finite loss or parameters at step {step}")
        self.step = step


def params_finite(model: torch.nn.Module) -> bool:
    """Whether every parameter is finite (one host sync for the whole model)."""
    flags = [torch.isfinite(p).all() for p in model.parameters()]
    return bool(torch.stack(flags).all()) if flags else True


def watch_for(device: torch.device, size: int = 1) -> DeviceWatch | HostWatch:
    """A watch of `size` trials: a DeviceWatch on an accelerator, a HostWatch on CPU."""
    return HostWatch(size) if device.type == "cpu" else DeviceWatch(device, size)

