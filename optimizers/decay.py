"""The three places weight decay can enter an update (SPEC §2), shared by every direction.

coupled      g <- g + wd * x, before the direction sees the gradient (Adam + l2)
decoupled    x <- (1 - lr * wd) x, beside the direction (AdamW; box radius 1/wd)
independent  x <- (1 - (lr / lr_max) * wd) x, decay follows only the schedule multiplier
             (Loshchilov & Hutter's code; box radius lr_max / wd)
none         weight decay ignored
"""

from __future__ import annotations

from enum import Enum

import torch
from torch import Tensor


class DecayStyle(str, Enum):
    COUPLED = "coupled"
    DECOUPLED = "decoupled"
    INDEPENDENT = "independent"
    NONE = "none"

    @classmethod
    def parse(cls, value: str | DecayStyle) -> DecayStyle:
        try:
            return cls(value)
        except ValueError:
            valid = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown decay style {value!r}; use one of: {valid}") from None


def couple(grads: list[Tensor], params: list[Tensor], weight_decay: float) -> list[Tensor]:
    """Gradients of loss + (wd/2)||x||^2: new tensors, the .grad fields stay untouched."""
    if weight_decay == 0.0:
        return grads
    return torch._foreach_add(grads, params, alpha=weight_decay)


def decay_rate(style: DecayStyle, lr_max: float, weight_decay: float) -> float:
    """Shrink per unit lr: x <- (1 - lr * rate) x. wd (decoupled), wd / lr_max (independent),
    0 for coupled and none (their decay, if any, goes through the gradient)."""
    if style is DecayStyle.DECOUPLED:
        return weight_decay
    if style is DecayStyle.INDEPENDENT:
        return weight_decay / lr_max
    return 0.0


def shrink_factor(style: DecayStyle, lr: float, lr_max: float, weight_decay: float) -> float:
    """Multiplier applied to x before the step (1.0 for coupled and none)."""
    if style is DecayStyle.DECOUPLED:
        return 1.0 - lr * weight_decay
    if style is DecayStyle.INDEPENDENT:
        return 1.0 - (lr / lr_max) * weight_decay
    return 1.0


def implied_radius(style: DecayStyle | str, weight_decay: float, lr_max: float) -> float | None:
    """Radius of the l_inf ball the decayed iterates are driven into, or None (no box)."""
    style = DecayStyle.parse(style)
    if weight_decay <= 0.0:
        return None
    if style is DecayStyle.DECOUPLED:
        return 1.0 / weight_decay
    if style is DecayStyle.INDEPENDENT:
        return lr_max / weight_decay
    return None
