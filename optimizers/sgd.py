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
        """Through torch's fused SGD kernel (one pass over memory) wherever it applies.

        Its weight decay x <- x - lr (d + wd x) is coupled decay, and also the decoupled
        shrink (1 - lr wd) x applied beside a step -lr d: for plain SGD the two coincide."""
        style = DecayStyle(group["decay"])
        lr, wd, mu = group["lr"], group["weight_decay"], group["momentum"]
        rate = decay_rate(style, group["lr_max"], wd)
        fused = hasattr(torch, "_fused_sgd_") and all(
            p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
        if mu and rate:
            self._decoupled_heavy_ball(group, params, grads, lr, rate, fused)
            return
        # Coupled decay, or no momentum: torch's SGD as it is. Zero buffers make the first
        # step b = mu * 0 + g = g (torch's convention) and let parameters whose first gradient
        # comes late share the call.
        bufs = self._state_buffers(params, "momentum_buffer") if mu else []
        sgd_functional(params, grads, bufs, fused=fused or None, weight_decay=wd if
                       style is DecayStyle.COUPLED else rate, momentum=mu, lr=lr,
                       dampening=0.0, nesterov=group["nesterov"], maximize=False)

    def _decoupled_heavy_ball(self, group: dict[str, Any], params: list[Tensor],
                              grads: list[Tensor], lr: float, rate: float, fused: bool) -> None:
        """b <- mu b + g, then x <- x - lr (d + rate x): one pass each, tensor by tensor."""
        mu = group["momentum"]
        for p, g, buf in zip(params, grads, self._state_buffers(params, "momentum_buffer")):
            torch.add(g, buf, alpha=mu, out=buf)
            d = torch.add(g, buf, alpha=mu) if group["nesterov"] else buf
            if fused:
                torch._fused_sgd_([p], [d], [], weight_decay=rate, momentum=0.0, lr=lr,
                                  dampening=0.0, nesterov=False, maximize=False,
                                  is_first_step=False)
            else:
                p.mul_(1.0 - lr * rate).add_(d, alpha=-lr)
