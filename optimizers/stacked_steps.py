"""Native stacked steps: each built-in direction written once more over a leading trial
dimension, with the per-trial lr and decay terms as [T, 1, ...] tensors.

Each function steps one stacked tensor p [T, ...] in place with its gradient g (already coupled,
g + c x, where the style couples) and its state, in the operation order of the single-trial
eager path (`DecayedOptimizer._directions` + `apply_update`; for Adam, torch's own Adam loop),
so a float64 member agrees with the built-in run alone to rounding: elementwise ops on the same
numbers, broadcast along dim 0. Only the scalar-vs-tensor forms differ (torch's `add(alpha=)`
may fuse a multiply-add where `p + (-lr) * d` rounds twice), hence "to rounding", not always bit
for bit; tests/optimizers/test_stacked.py says which are exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from optimizers.decay import STYLES, DecayStyle


@dataclass(frozen=True)
class Terms:
    """One tensor's per-trial numbers, shaped [T, 1, ...] to broadcast against it."""

    lr: Tensor  # η_t per trial
    neg_lr: Tensor  # -η_t (the eager path's alpha=-lr)
    coupled: Tensor | None
    shrink: Tensor | None
    cautious: bool


def apply_update(p: Tensor, d: Tensor, terms: Terms) -> None:
    """`base.apply_update` for one stacked tensor: the shrink first (under cautious decay only
    where d x >= 0), then x <- x - η_t d."""
    if terms.cautious and terms.shrink is not None:
        p.copy_(torch.where(d * p >= 0, p * terms.shrink, p))
    elif terms.shrink is not None:
        p.mul_(terms.shrink)
    p.add_(d * terms.neg_lr)


def zeros_state(state: dict[str, Tensor], key: str, p: Tensor) -> Tensor:
    if key not in state:
        state[key] = torch.zeros_like(p)
    return state[key]


def adam_step(hyper: dict[str, Any], state: dict[str, Tensor], p: Tensor, g: Tensor,
              step: int, terms: Terms, name: str) -> None:
    """torch's single-tensor Adam (the shrink, then the moments, then addcdiv by -lr/bc1);
    under cautious decay the direction m̂/(√v̂ + ε) as `Adam._directions` computes it."""
    beta1, beta2 = hyper["betas"]
    m, v = zeros_state(state, "exp_avg", p), zeros_state(state, "exp_avg_sq", p)
    m.lerp_(g, 1 - beta1)
    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
    correction1 = 1 - beta1 ** step
    correction2_sqrt = (1 - beta2 ** step) ** 0.5
    denom = (v.sqrt() / correction2_sqrt).add_(hyper["eps"])
    if terms.cautious:
        # Adam._directions: a torch step of zeros at lr 1, negated.
        d = torch.neg((m * -(1.0 / correction1)) / denom)
        apply_update(p, d, terms)
        return
    if terms.shrink is not None:
        p.mul_(terms.shrink)
    p.add_((m * (terms.neg_lr / correction1)) / denom)


def sign_step(hyper: dict[str, Any], state: dict[str, Tensor], p: Tensor, g: Tensor,
              step: int, terms: Terms, name: str) -> None:
    """SignGD (momentum 0) or Signum: d = sign(lerp(m, g, 1 - beta))."""
    beta = hyper["momentum"]
    if beta == 0.0:
        d = torch.sign(g)
    else:
        buf = zeros_state(state, "momentum_buffer", p)
        buf.lerp_(g, 1.0 - beta)
        d = torch.sign(buf)
    apply_update(p, d, terms)


def lion_step(hyper: dict[str, Any], state: dict[str, Tensor], p: Tensor, g: Tensor,
              step: int, terms: Terms, name: str) -> None:
    """d = sign(lerp(m, g, 1 - b1)), then m <- lerp(m, g, 1 - b2)."""
    beta1, beta2 = hyper["betas"]
    buf = zeros_state(state, "exp_avg", p)
    d = torch.lerp(buf, g, 1.0 - beta1).sign_()
    buf.lerp_(g, 1.0 - beta2)
    apply_update(p, d, terms)


def sgd_step(hyper: dict[str, Any], state: dict[str, Tensor], p: Tensor, g: Tensor,
             step: int, terms: Terms, name: str) -> None:
    """Heavy ball in torch's convention: b <- mu b + g; d = b, or g + mu b (Nesterov)."""
    mu = hyper["momentum"]
    if not mu:
        d = g
    else:
        buf = zeros_state(state, "momentum_buffer", p)
        torch.add(g, buf, alpha=mu, out=buf)
        d = torch.add(g, buf, alpha=mu) if hyper["nesterov"] else buf
    apply_update(p, d, terms)


# (hyper, state, p, g, step, terms, name): one stacked tensor's step, in place.
Step = Callable[[dict[str, Any], dict[str, Tensor], Tensor, Tensor, int, Terms, str], None]

def broadcast(values: Tensor, ndim: int, dtype: torch.dtype) -> Tensor:
    """[T] float64 -> [T, 1, ...] (ndim dims) in the parameter dtype."""
    return values.to(dtype).view(-1, *([1] * (ndim - 1)))


def as_float64(values: Any, device: torch.device) -> Tensor:
    return torch.as_tensor([float(v) for v in values], dtype=torch.float64, device=device)


def host_terms(style: DecayStyle | str, lrs: np.ndarray, multiplier: float,
               weight_decay: np.ndarray, any_decay: bool, ndim: int,
               dtype: torch.dtype) -> Terms:
    """A CPU tensor's Terms from float64 host arrays: η_t = lrs * multiplier (LambdaLR's
    product) and `decay.stacked_decay_terms` by the same STYLES entry and the same float64
    operations, so the same numbers bit for bit (tests/optimizers/test_stacked.py), cast to
    `dtype` once for all of them. A group computes its terms anew every step the schedule
    moves; numpy's per-call cost is a fraction of torch's on [T] arrays (a group's terms:
    18 µs against 29 µs a step, T = 8, one thread, this project's CPU)."""
    entry = STYLES[DecayStyle.parse(style)]
    lr = lrs * multiplier
    coupled = shrink = None
    if any_decay and entry.coupled:
        coupled = weight_decay
    elif any_decay:
        off = weight_decay == 0.0
        with np.errstate(divide="ignore", invalid="ignore"):  # η_t = 0: λ / η_t, replaced
            rate = np.where(off, 0.0, entry.rate(weight_decay, lr, lrs))
        shrink = 1.0 - lr * rate
    rows = [lr, -lr, *(t for t in (coupled, shrink) if t is not None)]
    table = torch.from_numpy(np.array(rows)).to(dtype)
    parts = table.view(len(rows), -1, *[1] * (ndim - 1)).unbind(0)
    return Terms(lr=parts[0], neg_lr=parts[1],
                 coupled=parts[2] if coupled is not None else None,
                 shrink=parts[-1] if shrink is not None else None,
                 cautious=any_decay and entry.cautious)
