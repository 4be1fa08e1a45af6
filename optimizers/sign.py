"""SignGD and Signum: d = sign(m), m = beta m + (1 - beta) g (beta = 0: d = sign(g))."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from optimizers import validation
from optimizers.base import DecayedOptimizer, load_sign_kernels
from optimizers.compiled_steps import state_dtype
from optimizers.decay import DecayTerms


class SignSGD(DecayedOptimizer):
    """Normalized steepest descent for l_inf; with decoupled decay, Frank-Wolfe on the box.

    impl="fused" (default) steps CPU float32/float64 tensors in one numba kernel per tensor
    and CUDA fp32/bf16 tensors in one compiled kernel (`compiled_steps`); impl="compiled"
    takes the compiled step on CPU too; impl="foreach" (and what neither takes: CPU bf16,
    strided) runs foreach ops.
    """

    direction = "sign"
    implementations = ("fused", "compiled", "foreach")

    def __init__(self, params: Any, lr: float = 1e-3, weight_decay: float = 0.0,
                 decay: str = "decoupled", momentum: float = 0.0, impl: str = "fused") -> None:
        super().__init__(params, lr, weight_decay, decay,
                         momentum=validation.unit_interval("momentum", momentum), impl=impl)

    def _directions(self, group: dict[str, Any], params: list[Tensor],
                    grads: list[Tensor]) -> list[Tensor]:
        beta = group["momentum"]
        if beta == 0.0:
            return torch._foreach_sign(grads)
        bufs = self._state_buffers(params, "momentum_buffer")
        torch._foreach_lerp_(bufs, grads, 1.0 - beta)
        return torch._foreach_sign(bufs)

    def _fused_update(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor],
                      terms: DecayTerms) -> bool:
        beta = group["momentum"]
        if self._wants_compiled(group, params):
            common = dict(lr=group["lr"], shrink=terms.shrink, coupled=terms.coupled)
            if not beta:
                return self._compiled_update("sign", [params, grads], **common)
            bufs = self._state_buffers(params, "momentum_buffer", state_dtype(params))
            return self._compiled_update("signum", [params, grads, bufs], beta=beta, **common)
        if group["impl"] != "fused":
            return False
        bufs = self._state_buffers(params, "momentum_buffer") if beta else None
        kernels = load_sign_kernels(params, grads, *([bufs] if bufs else []))
        if kernels is None:
            return False
        kernels.sign_update(params, grads, bufs, beta, group["lr"], terms.shrink,
                            terms.coupled)
        return True
