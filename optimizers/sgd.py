"""SGD with heavy-ball momentum in torch's convention: b <- mu b + g, d = b (or g + mu b)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.optim.sgd import sgd as sgd_functional

from optimizers.base import DecayedOptimizer
from optimizers.decay import DecayStyle, decay_rate


class SGD(DecayedOptimizer):
    direction = "sgd"

    def __init__(self, params: Any, lr: float = 1e-2, weight_decay: float = 0.0,
                 decay: str = "decoupled", momentum: float = 0.9,
                 nesterov: bool = False) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        super().__init__(params, lr, weight_decay, decay, momentum=momentum, nesterov=nesterov)

    def _update(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]) -> None:
        """torch's own SGD kernels do the direction and coupled decay in one pass; the
        decoupled shrink, if any, is one multiply before them."""
        style = DecayStyle(group["decay"])
        lr, wd, mu = group["lr"], group["weight_decay"], group["momentum"]
        rate = decay_rate(style, group["lr_max"], wd)
        if rate:
            torch._foreach_mul_(params, 1.0 - lr * rate)
        # Zero buffers make the first step b = mu * 0 + g = g, torch's convention, and let
        # parameters that get their first gradient late share a call with the others.
        bufs = [self.state[p].get("momentum_buffer") for p in params] if mu else []
        bufs = [torch.zeros_like(p) if b is None else b for p, b in zip(params, bufs)]
        fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
        sgd_functional(params, grads, bufs, fused=fused or None,
                       weight_decay=wd if style is DecayStyle.COUPLED else 0.0, momentum=mu,
                       lr=lr, dampening=0.0, nesterov=group["nesterov"], maximize=False)
        for p, buf in zip(params, bufs):
            self.state[p]["momentum_buffer"] = buf
