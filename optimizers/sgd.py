"""SGD with heavy-ball momentum in torch's convention: b <- mu b + g, d = b (or g + mu b)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.optim.sgd import sgd as sgd_functional

from optimizers import validation
from optimizers.base import DecayedOptimizer
from optimizers.compiled_steps import state_dtype
from optimizers.decay import DecayTerms


class SGD(DecayedOptimizer):
    """impl="fused" (default): torch's fused SGD kernel, except heavy ball with a shrink on
    CUDA, which takes the compiled one-pass step (`compiled_steps`; torch's kernel would need
    a second pass for the momentum direction); impl="compiled": the compiled step for every
    momentum step, CPU included; impl="foreach": the eager path."""

    direction = "sgd"
    implementations = ("fused", "compiled", "foreach")

    def __init__(self, params: Any, lr: float = 1e-2, weight_decay: float = 0.0,
                 decay: str = "decoupled", momentum: float = 0.9,
                 nesterov: bool = False, impl: str = "fused") -> None:
        super().__init__(params, lr, weight_decay, decay,
                         momentum=validation.unit_interval("momentum", momentum),
                         nesterov=nesterov, impl=impl)

    def _directions(self, group: dict[str, Any], params: list[Tensor],
                    grads: list[Tensor]) -> list[Tensor]:
        """b <- mu b + g; d = b, or g + mu b (Nesterov); d = g without momentum."""
        mu = group["momentum"]
        if not mu:
            return list(grads)
        out = []
        for g, buf in zip(grads, self._state_buffers(params, "momentum_buffer")):
            torch.add(g, buf, alpha=mu, out=buf)
            out.append(torch.add(g, buf, alpha=mu) if group["nesterov"] else buf)
        return out

    def _fused_update(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor],
                      terms: DecayTerms) -> bool:
        """Through torch's fused SGD kernel (one pass over memory) wherever it applies.

        Its weight decay x <- x - lr (d + wd x) is coupled decay, and also the shrink
        (1 - lr rate) x applied beside a step -lr d: for plain SGD the two coincide."""
        lr, mu = group["lr"], group["momentum"]
        if group["impl"] == "foreach":
            return False
        compiled = group["impl"] == "compiled" or (mu and terms.rate and
                                                    self._wants_compiled(group, params))
        if mu and compiled:
            bufs = self._state_buffers(params, "momentum_buffer", state_dtype(params))
            if self._compiled_update("heavy_ball", [params, grads, bufs], lr=lr,
                                     shrink=terms.shrink, coupled=terms.coupled, momentum=mu,
                                     nesterov=bool(group["nesterov"])):
                return True
        fused = hasattr(torch, "_fused_sgd_") and all(
            p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
        if mu and terms.rate:
            self._decoupled_heavy_ball(group, params, grads, terms, fused)
            return True
        # Coupled decay, or no momentum: torch's SGD as it is. Zero buffers make the first
        # step b = mu * 0 + g = g (torch's convention) and let parameters whose first gradient
        # comes late share the call.
        bufs = self._state_buffers(params, "momentum_buffer") if mu else []
        sgd_functional(params, grads, bufs, fused=fused or None,
                       weight_decay=terms.coupled or terms.rate, momentum=mu, lr=lr,
                       dampening=0.0, nesterov=group["nesterov"], maximize=False)
        return True

    def _decoupled_heavy_ball(self, group: dict[str, Any], params: list[Tensor],
                              grads: list[Tensor], terms: DecayTerms, fused: bool) -> None:
        """The momentum direction, then x <- x - lr (d + rate x) in one pass per tensor (the
        shrink then step, where torch's kernel does not apply)."""
        lr = group["lr"]
        for p, d in zip(params, self._directions(group, params, grads)):
            if fused:
                torch._fused_sgd_([p], [d], [], weight_decay=terms.rate, momentum=0.0, lr=lr,
                                  dampening=0.0, nesterov=False, maximize=False,
                                  is_first_step=False)
            else:
                p.mul_(terms.shrink).add_(d, alpha=-lr)
