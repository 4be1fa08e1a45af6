"""Optimizers with one defect each, for the conformance checks to catch (imported by SPEC)."""

from __future__ import annotations

import torch


class _Momentum(torch.optim.Optimizer):
    """Heavy-ball SGD with decoupled weight decay; subclasses break one thing."""

    def __init__(self, params, lr=1e-2, weight_decay=0.0, momentum=0.9):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum))

    def _weight_decay(self, group):
        return group["weight_decay"]

    def _buffer(self, p):
        return self.state[p].setdefault("momentum_buffer", torch.zeros_like(p))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                buf = self._buffer(p)
                buf.mul_(group["momentum"]).add_(p.grad)
                p.mul_(1 - group["lr"] * self._weight_decay(group))
                p.add_(buf, alpha=-group["lr"])
        return loss


class Conforming(_Momentum):
    decay_style = "decoupled"


class IgnoresWeightDecay(_Momentum):
    """Accepts weight_decay and never applies it: a bug seen in published libraries."""

    def _weight_decay(self, group):
        return 0.0


class ReadsDefaultWeightDecay(_Momentum):
    """Uses the constructor's weight_decay for every group, ignoring per-group values."""

    def _weight_decay(self, group):
        return self.defaults["weight_decay"]


class ForgetsState(_Momentum):
    """Keeps momentum outside self.state, so state_dict() does not carry it."""

    def _buffer(self, p):
        buffers = self.__dict__.setdefault("_buffers", {})
        return buffers.setdefault(id(p), torch.zeros_like(p))


class MislabelledCoupled(_Momentum):
    """Declares coupled decay but decays decoupled."""

    decay_style = "coupled"


class ConstantShrink(_Momentum):
    """Shrinks x by (1 - λ) per step whatever the lr or its schedule: the `fixed` style,
    undeclared."""

    def _weight_decay(self, group):
        return group["weight_decay"] / group["lr"]


class OffScaleShrink(_Momentum):
    """Shrinks x by (1 - 0.1 λ) per step whatever the lr: constant, but not λ: no style."""

    def _weight_decay(self, group):
        return 0.1 * group["weight_decay"] / group["lr"]


class HangsInStep(_Momentum):
    """`step()` never returns: check-optimizer must give a verdict, not hang. With
    $WDBENCH_TEST_HANG_MARKS set, each process hanging here first creates the file
    `<that directory>/<pid>`, so a test knows it hangs without waiting a guessed time."""

    decay_style = "decoupled"

    def step(self, closure=None):
        import os
        import time

        marks = os.environ.get("WDBENCH_TEST_HANG_MARKS")
        if marks:
            open(os.path.join(marks, str(os.getpid())), "w").close()
        while True:
            time.sleep(0.05)


class ExitsInStep(_Momentum):
    """`step()` raises SystemExit(0): a sweep must record the trial failed, not exit 0."""

    decay_style = "decoupled"

    def step(self, closure=None):
        raise SystemExit(0)
