"""SignGD and Signum: d = sign(m), m = beta m + (1 - beta) g (beta = 0: d = sign(g))."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from optimizers.base import DecayedOptimizer


class SignSGD(DecayedOptimizer):
    """Normalized steepest descent for l_inf; with decoupled decay, Frank-Wolfe on the box."""

    direction = "sign"

    def __init__(self, params: Any, lr: float = 1e-3, weight_decay: float = 0.0,
                 decay: str = "decoupled", momentum: float = 0.0) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        super().__init__(params, lr, weight_decay, decay, momentum=momentum)

    def _directions(self, group: dict[str, Any], params: list[Tensor],
                    grads: list[Tensor]) -> list[Tensor]:
        beta = group["momentum"]
        if beta == 0.0:
            return torch._foreach_sign(grads)
        bufs = []
        for p in params:
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = torch.zeros_like(p)
            bufs.append(state["momentum_buffer"])
        torch._foreach_lerp_(bufs, grads, 1.0 - beta)
        return torch._foreach_sign(bufs)
