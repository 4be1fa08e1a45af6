"""A fake optimizer library for `wdbench audit`: one optimizer per decay style, flags that
switch the style, declarations that are right and wrong, a wrapper, optimizers the probe
cannot drive, and ones that hang, crash, exit or print without end. `test_audit.py` knows
what each should give."""

from __future__ import annotations

import abc
import os
import time

import torch
from torch.optim import Optimizer  # noqa: F401 - a re-export the audit must skip

# private, so the audit neither sees a re-export nor audits the base
from tests.bench.heavy_ball import HeavyBall as _HeavyBall


class _Momentum(_HeavyBall):
    """Heavy-ball momentum; `_decay` says where weight decay enters (private: not audited)."""


def _coupled(group, p, grad):
    return grad.add(p, alpha=group["weight_decay"])


def _decoupled(group, p, grad):
    p.mul_(1 - group["lr"] * group["weight_decay"])
    return grad


class CoupledMomentum(_Momentum):
    """Momentum with an l2 penalty.

    Args:
        weight_decay: weight decay (L2 penalty).
    """

    def _decay(self, group, p, grad):
        return _coupled(group, p, grad)


class UndocumentedCoupled(_Momentum):
    def _decay(self, group, p, grad):
        return _coupled(group, p, grad)


class DeclaredDecoupled(_Momentum):
    decay_style = "decoupled"

    def _decay(self, group, p, grad):
        return _decoupled(group, p, grad)


DecoupledAlias = DeclaredDecoupled  # the same class twice: one row


class MislabelledCoupled(_Momentum):
    """Declares coupled decay, decays decoupled."""

    decay_style = "coupled"

    def _decay(self, group, p, grad):
        return _decoupled(group, p, grad)


class DeclaredNone(_Momentum):
    """A no-decay baseline that says so."""

    decay_style = "none"


class IgnoresWeightDecay(_Momentum):
    """Accepts weight_decay and never applies it (pytorch_optimizer #517's SignSGD).

    Args:
        weight_decay: Decoupled weight decay coefficient.
    """


class MomentumW(_Momentum):
    """Named like AdamW, decays through the gradient."""

    def _decay(self, group, p, grad):
        return _coupled(group, p, grad)


class SwitchMomentum(_Momentum):
    """Flags choose the style.

    Args:
        weight_decouple: Apply weight decay to parameters instead of adding it to the gradient.
        fixed_decay: Apply decoupled weight decay without scaling it by the learning rate.
        nesterov: not about decay: never flipped.
    """

    def __init__(self, params, lr=1e-2, weight_decay=0.0, weight_decouple: bool = True,
                 fixed_decay: bool = False, nesterov: bool = False):
        super().__init__(params, lr, weight_decay, weight_decouple=weight_decouple,
                         fixed_decay=fixed_decay)

    def _decay(self, group, p, grad):
        if not group["weight_decouple"]:
            return _coupled(group, p, grad)
        p.mul_(1 - group["weight_decay"] * (1.0 if group["fixed_decay"] else group["lr"]))
        return grad


class CautiousMomentum(_Momentum):
    """Args:
        weight_decay: Decoupled weight decay coefficient.
        cautious_weight_decay: decay only where the update and the parameter agree in sign.
    """

    def __init__(self, params, lr=1e-2, weight_decay=0.0, cautious_weight_decay=False):
        super().__init__(params, lr, weight_decay, cautious=cautious_weight_decay)

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(p))
                buf.mul_(group["momentum"]).add_(p.grad)
                decay = p * group["weight_decay"]
                if group["cautious"]:
                    decay *= buf * p >= 0
                p.sub_(buf + decay, alpha=group["lr"])


class EveryStepWrapper(torch.optim.Optimizer):
    """Wraps a base optimizer and steps it (like Lookahead or PCGrad, minus the point)."""

    def __init__(self, optimizer, k: int = 1):
        self.optimizer = optimizer
        self.param_groups = optimizer.param_groups
        self.defaults = optimizer.defaults
        self.state = optimizer.state

    def step(self, closure=None):
        return self.optimizer.step(closure)


class ShrinkingWrapper(EveryStepWrapper):
    """A wrapper with its own decoupled decay (like schedule-free wrappers).

    Args:
        weight_decay: Decoupled weight decay coefficient.
    """

    def __init__(self, optimizer, weight_decay: float = 0.0):
        super().__init__(optimizer)
        self.weight_decay = weight_decay

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                p.mul_(1 - group["lr"] * self.weight_decay)
        return self.optimizer.step(closure)


class BlowsUpAtZeroGradient(_Momentum):
    """Decay divided by the gradient's scale (like AdamS's stable weight decay): with a zero
    gradient it overflows, and the probe's deviations are NaN."""

    def _decay(self, group, p, grad):
        p.mul_(1 - group["lr"] * group["weight_decay"] / (grad.abs().mean() + 1e-30))
        return grad


class NeedsHessian(_Momentum):
    """Hutchinson curvature: needs gradients built with create_graph=True."""

    def _decay(self, group, p, grad):
        with torch.enable_grad():
            torch.autograd.grad(p.grad, p, grad_outputs=torch.ones_like(p))
        return grad


class TwoStepSAM(torch.optim.Optimizer):
    def __init__(self, params, base_optimizer, rho: float = 0.05, weight_decay=0.0):
        super().__init__(params, dict(rho=rho, weight_decay=weight_decay))

    def first_step(self):
        pass

    def second_step(self):
        pass


class TakesModel(_Momentum):
    def __init__(self, model, lr=1e-2, weight_decay=0.0):
        super().__init__(model.parameters(), lr, weight_decay)


class NeedsHorizon(_Momentum):
    def __init__(self, params, total_steps, lr=1e-2, weight_decay=0.0):
        super().__init__(params, lr, weight_decay)


class NoWeightDecay(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-2, l2_lambda=0.0):
        super().__init__(params, dict(lr=lr))


class GpuOnly(_Momentum):
    def _decay(self, group, p, grad):
        return grad.add(p.cuda(), alpha=group["weight_decay"])


class HangsInStep(_Momentum):
    def step(self, closure=None):
        while True:
            time.sleep(0.05)


class CrashesInStep(_Momentum):
    def step(self, closure=None):
        os._exit(3)


class ExitsInStep(_Momentum):
    def step(self, closure=None):
        raise SystemExit(0)


class Chatty(_Momentum):
    """Decoupled, and prints 64 KiB to stdout and stderr on every step."""

    def _decay(self, group, p, grad):
        print("=" * 65536)
        print("@" * 65536, file=__import__("sys").stderr)
        return _decoupled(group, p, grad)


class AbstractBase(_Momentum, abc.ABC):
    @abc.abstractmethod
    def direction(self):
        """Abstract: not an optimizer anyone can build, so not audited."""
