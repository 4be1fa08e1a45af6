"""Lion (Chen et al. 2023): d = sign(b1 m + (1 - b1) g); then m <- b2 m + (1 - b2) g."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from optimizers import validation
from optimizers.base import DecayedOptimizer, load_sign_kernels
from optimizers.compiled_steps import state_dtype
from optimizers.decay import DecayTerms


class Lion(DecayedOptimizer):
    """impl="fused" (default) steps CPU float32/float64 tensors in one numba kernel per tensor
    and CUDA fp32/bf16 tensors in one compiled kernel (`compiled_steps`); impl="compiled"
    takes the compiled step on CPU too; impl="foreach" (and what neither takes: CPU bf16,
    strided) runs foreach ops.
    """

    direction = "lion"
    implementations = ("fused", "compiled", "foreach")

    def __init__(self, params: Any, lr: float = 1e-4, weight_decay: float = 0.0,
                 decay: str = "decoupled", betas: tuple[float, float] = (0.9, 0.99),
                 impl: str = "fused") -> None:
        super().__init__(params, lr, weight_decay, decay, betas=validation.betas(betas),
                         impl=impl)

    def _directions(self, group: dict[str, Any], params: list[Tensor],
                    grads: list[Tensor]) -> list[Tensor]:
        beta1, beta2 = group["betas"]
        bufs = self._state_buffers(params, "exp_avg")
        interp = torch._foreach_lerp(bufs, grads, 1.0 - beta1)
        torch._foreach_sign_(interp)
        torch._foreach_lerp_(bufs, grads, 1.0 - beta2)
        return interp

    def _fused_update(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor],
                      terms: DecayTerms) -> bool:
        beta1, beta2 = group["betas"]
        if self._wants_compiled(group, params):
            bufs = self._state_buffers(params, "exp_avg", state_dtype(params))
            return self._compiled_update("lion", [params, grads, bufs], lr=group["lr"],
                                         shrink=terms.shrink, coupled=terms.coupled,
                                         beta1=beta1, beta2=beta2)
        if group["impl"] != "fused":
            return False
        bufs = self._state_buffers(params, "exp_avg")
        kernels = load_sign_kernels(params, grads, bufs)
        if kernels is None:
            return False
        kernels.lion_update(params, grads, bufs, beta1, beta2, group["lr"], terms.shrink,
                            terms.coupled)
        return True
