"""SGD with heavy-ball momentum in torch's convention: b <- mu b + g, d = b (or g + mu b)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from optimizers.base import DecayedOptimizer


class SGD(DecayedOptimizer):
    direction = "sgd"

    def __init__(self, params: Any, lr: float = 1e-2, weight_decay: float = 0.0,
                 decay: str = "decoupled", momentum: float = 0.9,
                 nesterov: bool = False) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        super().__init__(params, lr, weight_decay, decay, momentum=momentum, nesterov=nesterov)

    def _directions(self, group: dict[str, Any], params: list[Tensor],
                    grads: list[Tensor]) -> list[Tensor]:
        mu = group["momentum"]
        if mu == 0.0:
            return list(grads)
        bufs = []
        for p, g in zip(params, grads):
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.detach().clone()
            else:
                state["momentum_buffer"].mul_(mu).add_(g)
            bufs.append(state["momentum_buffer"])
        if group["nesterov"]:
            return torch._foreach_add(grads, bufs, alpha=mu)
        return bufs
