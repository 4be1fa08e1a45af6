"""Heavy-ball momentum SGD, the base of the tests' fake optimizers (the defects of
tests/bench/defective_optimizers.py, the fake library tests/bench/conformance/fake_optim_pkg):

    g' = _decay(group, x, g)     the gradient the momentum sees (coupled decay adds λx);
                                 decoupled styles shrink x in place here first
    m ← μ m + g',  x ← x − lr m

A subclass changes where decay enters (`_decay`) or where the momentum lives (`_buffer`)."""

from __future__ import annotations

import torch


class HeavyBall(torch.optim.Optimizer):
    """Heavy-ball momentum; no weight decay unless a subclass's `_decay` applies it."""

    def __init__(self, params, lr=1e-2, weight_decay=0.0, momentum=0.9, **options):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum,
                                      **options))

    def _decay(self, group, p, grad):
        """Return the gradient the momentum sees; shrink p in place for decoupled styles."""
        return grad

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
                grad = self._decay(group, p, p.grad.clone())
                buf = self._buffer(p)
                buf.mul_(group["momentum"]).add_(grad)
                p.add_(buf, alpha=-group["lr"])
        return loss
