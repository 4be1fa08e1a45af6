"""Lion (Chen et al. 2023): d = sign(b1 m + (1 - b1) g); then m <- b2 m + (1 - b2) g."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from optimizers.base import DecayedOptimizer


class Lion(DecayedOptimizer):
    direction = "lion"

    def __init__(self, params: Any, lr: float = 1e-4, weight_decay: float = 0.0,
                 decay: str = "decoupled", betas: tuple[float, float] = (0.9, 0.99)) -> None:
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        super().__init__(params, lr, weight_decay, decay, betas=tuple(betas))

    def _directions(self, group: dict[str, Any], params: list[Tensor],
                    grads: list[Tensor]) -> list[Tensor]:
        beta1, beta2 = group["betas"]
        bufs = []
        for p in params:
            state = self.state[p]
            if "exp_avg" not in state:
                state["exp_avg"] = torch.zeros_like(p)
            bufs.append(state["exp_avg"])
        interp = torch._foreach_lerp(bufs, grads, 1.0 - beta1)
        torch._foreach_sign_(interp)
        torch._foreach_lerp_(bufs, grads, 1.0 - beta2)
        return interp
