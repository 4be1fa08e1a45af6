"""The EMA timescale of decayed weights (Wang & Aitchison, arXiv 2405.13698).

With decoupled decay x <- (1 - ηλ) x - η d the weights are an exponential moving average of
the updates -d/λ, with timescale τ_iter = 1/(ηλ) steps. Every decay style of
optimizers/decay.py shrinks by a factor 1 - η_t·rate(λ, η_t, η_max) per step, rate linear in
λ, so one definition covers them all, taken at the peak lr (η_t = η_max):

    τ_iter = 1 / (η_max · rate(λ, η_max, η_max))

  decoupled    1/(η_max λ)     (AdamW; the paper's quantity)
  corrected    1/(η_max λ)     (at the peak; it lengthens as η_t falls)
  independent  1/λ             (λ is the decay per step at the peak, whatever η_max)
  fixed        1/λ             (λ is the decay per step at every step)
  coupled, cautious, none      None: an l2 penalty passes through the direction's
                               normalisation, and a cautious shrink only touches some
                               coordinates, so neither is an EMA of the updates.
None also where λ = 0 (no decay: an infinite timescale).

τ_epoch = τ_iter / steps_per_epoch, steps_per_epoch = ⌊training examples / batch size⌋ (the
sampler drops the last incomplete batch). Full-batch tasks (the quadratics without noise,
the matrix quadratic) see the whole objective every step: their epoch is one step, so
τ_epoch = τ_iter (Task.steps_per_epoch says so).

Suites may give `tau` (τ_iter, in steps) instead of `weight_decay`: λ = `weight_decay_for`
(style, τ, η) inverts the formula per lr, and the trial keeps the τ asked for."""

from __future__ import annotations

import math

from optimizers.decay import STYLES, DecayStyle

EMA_STYLES = (DecayStyle.DECOUPLED, DecayStyle.CORRECTED, DecayStyle.INDEPENDENT,
              DecayStyle.FIXED)


def has_ema(style: DecayStyle | str) -> bool:
    """Whether the style makes the weights an EMA of the updates (see the module doc)."""
    return DecayStyle.parse(style) in EMA_STYLES


def _rate_per_lambda(style: DecayStyle, lr: float) -> float:
    """η·rate(1, η, η): the per-step shrink of λ = 1 at the peak lr (rate is linear in λ)."""
    return lr * STYLES[style].rate(1.0, lr, lr)


def ema_timescale(style: DecayStyle | str, weight_decay: float, lr: float) -> float | None:
    """τ_iter in steps at peak lr `lr`, or None (no EMA, or λ = 0)."""
    style = DecayStyle.parse(style)
    if weight_decay <= 0.0 or not has_ema(style):
        return None
    return 1.0 / (weight_decay * _rate_per_lambda(style, lr))


def weight_decay_for(style: DecayStyle | str, tau: float, lr: float) -> float:
    """The λ whose τ_iter at peak lr `lr` is `tau` steps; ValueError for styles without EMA."""
    style = DecayStyle.parse(style)
    if not has_ema(style):
        raise ValueError(f"decay style {style.value!r} has no EMA timescale (styles with one: "
                         f"{', '.join(s.value for s in EMA_STYLES)})")
    if not (tau > 0 and math.isfinite(tau)):
        raise ValueError(f"tau must be a finite number > 0, got {tau!r}")
    return 1.0 / (tau * _rate_per_lambda(style, lr))


def timescales(style: DecayStyle | str, weight_decay: float, lr: float,
               steps_per_epoch: float) -> dict[str, float | None]:
    """The record's tau_iter, tau_epoch and steps_per_epoch."""
    tau = ema_timescale(style, weight_decay, lr)
    epoch = tau / steps_per_epoch if tau is not None and steps_per_epoch > 0 else None
    return {"tau_iter": tau, "tau_epoch": epoch, "steps_per_epoch": steps_per_epoch}
