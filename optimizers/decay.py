"""The decay stage: where weight decay λ enters an update (SPEC §2), shared by every direction.

One table, STYLES, holds every decay style as one entry: the numbers an update needs at the
current lr η_t (`decay_terms`), and the l_inf radius the style drives the iterates into
(`implied_radius`). A direction never branches on the style; it consumes a DecayTerms:

    g' = g + coupled * x                      (before the direction sees the gradient)
    x  <- shrink * x - η_t d(g')              (shrink first, as in the published formulas)
    cautious: the shrink only where d ⊙ x >= 0, x untouched elsewhere

Styles (η_max = the group's peak lr, `lr_max`; d = the direction):

  coupled      g <- g + λx (Adam + l2: an l2 penalty).  Radius: none.
  decoupled    x <- (1 - η_t λ) x - η_t d  (torch.optim.AdamW; Loshchilov & Hutter,
               arXiv 1711.05101).  Radius 1/λ.
  independent  x <- (1 - (η_t/η_max) λ) x - η_t d: decay follows the schedule multiplier, not
               the lr's size (Loshchilov & Hutter's code).  Radius η_max/λ.
  fixed        x <- (1 - λ) x - η_t d: λ is a per-step fraction, whatever the lr
               (pytorch_optimizer's `fixed_decay=True`).  Radius η_t/λ (the fixed point of
               |x| = (1 - λ)|x| + η_t), which shrinks as η_t falls.
  corrected    x <- (1 - η_t λ_t) x - η_t d, λ_t = λ η_t/η_max (AdamC, Defazio 2025,
               arXiv 2506.02285, "Why Gradients Rapidly Increase Near the End of Training":
               decay step γ_t²/γ_max · λ).  The paper applies it to layers followed by a
               normalization (in its LLM runs, every linear layer but the output one) and
               keeps AdamW's decay elsewhere; here it applies to every decayed tensor (the
               task's decay mask decides which tensors are decayed at all).  Radius 1/λ_t =
               η_max/(λ η_t), which grows as η_t falls.
  cautious     x <- x - η_t (d + λ 1[d ⊙ x >= 0] ⊙ x): decoupled decay only on coordinates
               where the update and the parameter agree in sign (Cautious Weight Decay, Chen
               et al. 2025, arXiv 2510.12402).  The paper claims the original loss is kept
               (no regularised or constrained surrogate; sliding-mode search for Pareto-optimal
               stationary points), so no box is predicted.  Radius: none.
  none         weight decay ignored.  Radius: none.

The shrink is stored together with its per-lr `rate` (shrink = 1 - lr * rate, computed that way
for every style) so that torch's own kernels, which take decoupled decay as a per-lr rate, step
with bit for bit the shrink the eager path and the numba kernels use.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import torch
from torch import Tensor


class DecayStyle(str, Enum):
    COUPLED = "coupled"
    DECOUPLED = "decoupled"
    INDEPENDENT = "independent"
    FIXED = "fixed"
    CORRECTED = "corrected"
    CAUTIOUS = "cautious"
    NONE = "none"

    @classmethod
    def parse(cls, value: str | DecayStyle) -> DecayStyle:
        try:
            return cls(value)
        except ValueError:
            valid = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown decay style {value!r}; use one of: {valid}") from None


@dataclass(frozen=True)
class DecayTerms:
    """What one update of one param group needs from the decay style."""

    coupled: float = 0.0  # c in g' = g + c x
    rate: float = 0.0  # decoupled decay per unit lr: shrink = 1 - lr * rate
    shrink: float = 1.0  # x <- shrink * x before the step
    cautious: bool = False  # shrink only where direction * x >= 0


@dataclass(frozen=True)
class Style:
    """One decay style: its per-lr decoupled rate or coupling, and its implied radius."""

    # (λ, lr_t, lr_max) -> decoupled decay per unit lr (0: none)
    rate: Callable[[float, float, float], float]
    # (λ, lr_t, lr_max) -> l_inf radius, for λ > 0 (None: no box predicted)
    radius: Callable[[float, float, float], float | None]
    coupled: bool = False
    cautious: bool = False


def _zero(wd: float, lr: float, lr_max: float) -> float:
    return 0.0


def _no_box(wd: float, lr: float, lr_max: float) -> None:
    return None


def _corrected_radius(wd: float, lr: float, lr_max: float) -> float:
    """η_max/(λη_t); infinite where η_t = 0 (the end of a cosine schedule: λ_t = 0, no
    decay, no box), its limit, rather than a division by zero."""
    return lr_max / (wd * lr) if lr > 0 else math.inf


STYLES: dict[DecayStyle, Style] = {
    DecayStyle.COUPLED: Style(rate=_zero, radius=_no_box, coupled=True),
    DecayStyle.DECOUPLED: Style(rate=lambda wd, lr, lr_max: wd,
                                radius=lambda wd, lr, lr_max: 1.0 / wd),
    DecayStyle.INDEPENDENT: Style(rate=lambda wd, lr, lr_max: wd / lr_max,
                                  radius=lambda wd, lr, lr_max: lr_max / wd),
    DecayStyle.FIXED: Style(rate=lambda wd, lr, lr_max: wd / lr,
                            radius=lambda wd, lr, lr_max: lr / wd),
    DecayStyle.CORRECTED: Style(rate=lambda wd, lr, lr_max: wd * lr / lr_max,
                                radius=_corrected_radius),
    DecayStyle.CAUTIOUS: Style(rate=lambda wd, lr, lr_max: wd, radius=_no_box, cautious=True),
    DecayStyle.NONE: Style(rate=_zero, radius=_no_box),
}


def decay_terms(style: DecayStyle | str, weight_decay: float, lr: float,
                lr_max: float) -> DecayTerms:
    """The decay numbers of one update at lr `lr` (the scheduled η_t) and peak lr `lr_max`."""
    entry = STYLES[DecayStyle.parse(style)]
    if weight_decay == 0.0:
        return DecayTerms()
    if entry.coupled:
        return DecayTerms(coupled=weight_decay)
    rate = entry.rate(weight_decay, lr, lr_max)
    return DecayTerms(rate=rate, shrink=1.0 - lr * rate, cautious=entry.cautious)


def implied_radius(style: DecayStyle | str, weight_decay: float, lr: float,
                   lr_max: float) -> float | None:
    """Radius of the l_inf ball the decayed iterates are driven into at lr `lr` (η_t), or None
    (no box). Only `fixed` and `corrected` move with η_t."""
    if weight_decay <= 0.0:
        return None
    return STYLES[DecayStyle.parse(style)].radius(weight_decay, lr, lr_max)


def couple(grads: list[Tensor], params: list[Tensor], coupled: float) -> list[Tensor]:
    """Gradients of loss + (c/2)||x||^2: new tensors, the .grad fields stay untouched."""
    if coupled == 0.0:
        return grads
    return torch._foreach_add(grads, params, alpha=coupled)


@dataclass(frozen=True)
class StackedDecayTerms:
    """DecayTerms for T stacked members at once: [T] tensors (float64), entry i what
    `decay_terms` gives member i. None marks a term that is a no-op for every member (no
    coupling, shrink 1), which the eager path skips too."""

    coupled: Tensor | None
    rate: Tensor
    shrink: Tensor | None
    cautious: bool = False


def stacked_decay_terms(style: DecayStyle | str, weight_decay: Tensor, lr: Tensor,
                        lr_max: Tensor, any_decay: bool | None = None) -> StackedDecayTerms:
    """`decay_terms` vectorised over a leading trial dimension, by the same STYLES entry (so a
    float64 member's numbers are bit for bit its own `decay_terms`). A member with λ = 0 gets
    the no-op terms, as `decay_terms` gives it. `any_decay`: whether some λ > 0, where the
    caller knows (else read from the tensor: a host sync on a GPU)."""
    entry = STYLES[DecayStyle.parse(style)]
    off = weight_decay == 0.0
    zeros = torch.zeros_like(weight_decay)
    if not (bool((~off).any()) if any_decay is None else any_decay):
        return StackedDecayTerms(None, zeros, None)
    if entry.coupled:
        return StackedDecayTerms(weight_decay.clone(), zeros, None)
    rate = torch.where(off, zeros, entry.rate(weight_decay, lr, lr_max))
    return StackedDecayTerms(None, rate, 1.0 - lr * rate, cautious=entry.cautious)
