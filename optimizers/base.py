"""DecayedOptimizer: a direction (what a method does with a gradient) composed with a decay
style (where weight decay enters). Subclasses write only the direction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor

from optimizers.decay import DecayStyle, couple, shrink_factor


class DecayedOptimizer(torch.optim.Optimizer):
    """x <- shrink * x - lr * d(g'), with g' = g + wd x under coupled decay.

    Param groups carry `lr`, `weight_decay`, `decay` and `lr_max` (the peak learning rate, used by
    the independent style; it defaults to the group's initial `lr`).
    """

    direction: ClassVar[str] = ""

    def __init__(
        self,
        params: Any,
        lr: float,
        weight_decay: float = 0.0,
        decay: str | DecayStyle = DecayStyle.DECOUPLED,
        **hyper: Any,
    ) -> None:
        if not lr > 0.0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if weight_decay < 0.0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        defaults = dict(lr=lr, weight_decay=weight_decay, decay=DecayStyle.parse(decay).value)
        defaults.update(hyper)
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        group["decay"] = DecayStyle.parse(group["decay"]).value
        group.setdefault("lr_max", group["lr"])

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._update(group, params, [p.grad for p in params])
        return loss

    def _update(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]) -> None:
        style = DecayStyle(group["decay"])
        lr, wd = group["lr"], group["weight_decay"]
        if style is DecayStyle.COUPLED:
            grads = couple(grads, params, wd)
        directions = self._directions(group, params, grads)
        factor = shrink_factor(style, lr, group["lr_max"], wd)
        if factor != 1.0:
            torch._foreach_mul_(params, factor)
        torch._foreach_add_(params, directions, alpha=-lr)

    def _directions(
        self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]
    ) -> list[Tensor]:
        """The update direction d for each parameter (updating any state); x moves by -lr * d."""
        raise NotImplementedError
