"""A submission as a user would write it (`wdbench sweep --task quadratic --with
tests.bench.submitted_optimizer:SignDescentW`): a plain torch Optimizer, not registered,
declaring its grid and decay style as attributes."""

from __future__ import annotations

from collections.abc import Callable

import torch


class SignDescentW(torch.optim.Optimizer):
    """x <- (1 - lr wd) x - lr sign(g): SignGD with decoupled decay, written from scratch."""

    decay_style = "decoupled"
    lr_grid = (0.05,)
    weight_decay_grid = (2.0,)

    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                    p.add_(torch.sign(p.grad), alpha=-group["lr"])
        return loss


def make_adam_l2(params, lr: float = 1e-3, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """A factory: torch's Adam with an l2 penalty (no grid declared: the registry's default)."""
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


make_adam_l2.decay_style = "coupled"
