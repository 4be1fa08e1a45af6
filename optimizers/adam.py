"""Adam direction d = m_hat / (sqrt(v_hat) + eps), run through torch's own Adam kernels.

torch's functional `adam` already knows two of our decay styles (coupled: `weight_decay`;
decoupled: `decoupled_weight_decay=True`), and the independent style is decoupled decay with
wd / lr_max, so all styles share torch's fused/foreach/loop implementations.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.optim.adam import adam as adam_functional

from optimizers.base import DecayedOptimizer
from optimizers.decay import DecayStyle


def _fused_supported(params: list[Tensor]) -> bool:
    return all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)


class Adam(DecayedOptimizer):
    direction = "adam"
    implementations = ("fused", "foreach", "loop")

    def __init__(self, params: Any, lr: float = 1e-3, weight_decay: float = 0.0,
                 decay: str = "decoupled", betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, impl: str = "fused") -> None:
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        super().__init__(params, lr, weight_decay, decay, betas=tuple(betas), eps=eps, impl=impl)

    def _update(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]) -> None:
        style = DecayStyle(group["decay"])
        wd = group["weight_decay"]
        if style is DecayStyle.INDEPENDENT:
            wd = wd / group["lr_max"]
        elif style is DecayStyle.NONE:
            wd = 0.0
        fused = group["impl"] == "fused" and _fused_supported(params)
        exp_avgs, exp_avg_sqs, steps = [], [], []
        for p in params:
            state = self.state[p]
            if not state:
                state["step"] = torch.zeros((), dtype=torch.float32,
                                            device=p.device if fused else "cpu")
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            steps.append(state["step"])
        if fused:
            # Fused kernels increment the step on the device; keep step tensors there.
            for i, (p, s) in enumerate(zip(params, steps)):
                if s.device != p.device:
                    steps[i] = self.state[p]["step"] = s.to(p.device)
        else:
            for i, (p, s) in enumerate(zip(params, steps)):
                if s.device.type != "cpu":
                    steps[i] = self.state[p]["step"] = s.cpu()
        beta1, beta2 = group["betas"]
        adam_functional(
            params, grads, exp_avgs, exp_avg_sqs, [], steps,
            foreach=group["impl"] == "foreach", fused=fused or None,
            decoupled_weight_decay=style is not DecayStyle.COUPLED,
            amsgrad=False, beta1=beta1, beta2=beta2, lr=group["lr"], weight_decay=wd,
            eps=group["eps"], maximize=False,
        )
