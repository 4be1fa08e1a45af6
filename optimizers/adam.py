"""Adam direction d = m_hat / (sqrt(v_hat) + eps), run through torch's own Adam kernels.

torch's functional `adam` takes decay in two forms, and the decay stage's terms map onto them:
coupled decay as `weight_decay` (added to the gradient), any shrink as decoupled
`weight_decay = rate` (torch shrinks by 1 - lr * rate, the stage's own shrink, bit for bit). So
every style but `cautious` runs torch's fused/foreach/loop implementations. Cautious decay needs
the direction itself, before the step: `_directions` gets it from the same torch call, stepping
zero tensors at lr 1 (x = 0 - 1 * d), so Adam's maths is written nowhere here.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.optim.adam import adam as adam_functional

from optimizers import validation
from optimizers.base import DecayedOptimizer
from optimizers.decay import DecayTerms


def _fused_supported(params: list[Tensor]) -> bool:
    return all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)


class Adam(DecayedOptimizer):
    direction = "adam"
    implementations = ("fused", "foreach", "loop")

    def __init__(self, params: Any, lr: float = 1e-3, weight_decay: float = 0.0,
                 decay: str = "decoupled", betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, impl: str = "fused") -> None:
        super().__init__(params, lr, weight_decay, decay, betas=validation.betas(betas),
                         eps=validation.non_negative("eps", eps), impl=impl)

    def _fused_update(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor],
                      terms: DecayTerms) -> bool:
        coupled = terms.coupled != 0.0
        self._torch_adam(group, params, params, grads, group["lr"],
                         weight_decay=terms.coupled if coupled else terms.rate,
                         decoupled=not coupled)
        return True

    def _directions(self, group: dict[str, Any], params: list[Tensor],
                    grads: list[Tensor]) -> list[Tensor]:
        steps = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
        self._torch_adam(group, params, steps, grads, 1.0, weight_decay=0.0, decoupled=True)
        return torch._foreach_neg(steps)

    def _torch_adam(self, group: dict[str, Any], owners: list[Tensor], targets: list[Tensor],
                    grads: list[Tensor], lr: float, weight_decay: float,
                    decoupled: bool) -> None:
        """One torch Adam step of `targets` with the moments kept in the state of `owners`."""
        fused = group["impl"] == "fused" and _fused_supported(owners)
        exp_avgs, exp_avg_sqs, steps = [], [], []
        for p in owners:
            state = self.state[p]
            if not state:
                state["step"] = torch.zeros((), dtype=torch.float32,
                                            device=p.device if fused else "cpu")
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            # Fused kernels increment the step on the device; the others want it on the CPU.
            device = p.device if fused else torch.device("cpu")
            if state["step"].device != device:
                state["step"] = state["step"].to(device)
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            steps.append(state["step"])
        beta1, beta2 = group["betas"]
        adam_functional(
            targets, grads, exp_avgs, exp_avg_sqs, [], steps,
            foreach=group["impl"] == "foreach", fused=fused or None,
            decoupled_weight_decay=decoupled, amsgrad=False, beta1=beta1, beta2=beta2, lr=lr,
            weight_decay=weight_decay, eps=group["eps"], maximize=False,
        )
