"""The EMA timescale (bench/measures/timescale.py): τ_iter per decay style against hand computation
and against the optimizers' own decay, and its inverse, which suites use for `tau` grids."""

from __future__ import annotations

import math

import pytest
import torch

import optimizers
from bench.measures import timescale
from optimizers.decay import DecayStyle


@pytest.mark.parametrize("style, wd, lr, expected", [
    ("decoupled", 0.1, 1e-2, 1000.0),    # 1/(ηλ)
    ("corrected", 0.1, 1e-2, 1000.0),    # at the peak lr: 1/(ηλ)
    ("independent", 0.01, 1e-3, 100.0),  # 1/λ, whatever η
    ("fixed", 0.01, 1e-3, 100.0),        # 1/λ
    ("coupled", 0.1, 1e-2, None),        # an l2 penalty: no EMA of the updates
    ("cautious", 0.1, 1e-2, None),       # shrinks only some coordinates
    ("none", 0.1, 1e-2, None),
    ("decoupled", 0.0, 1e-2, None),      # no decay
])
def test_tau_iter_per_style_by_hand(style, wd, lr, expected):
    tau = timescale.ema_timescale(style, wd, lr)
    assert tau == (pytest.approx(expected, rel=1e-12) if expected is not None else None)


def test_tau_epoch_divides_by_the_steps_of_an_epoch():
    out = timescale.timescales("decoupled", 0.1, 1e-2, steps_per_epoch=8)
    assert out == {"tau_iter": pytest.approx(1000.0), "tau_epoch": pytest.approx(125.0),
                   "steps_per_epoch": 8}
    assert timescale.timescales("coupled", 0.1, 1e-2, 8)["tau_epoch"] is None


@pytest.mark.parametrize("style", [s.value for s in timescale.EMA_STYLES])
def test_weights_forget_at_the_rate_tau_says(style):
    # Zero gradients: Adam's direction is 0, so only the decay moves x. After τ steps the
    # weights have shrunk by (1 - 1/τ)^τ, the EMA's forgetting over one timescale.
    lr = 0.05
    wd = 0.4 if style in ("decoupled", "corrected") else 0.02  # τ = 50 steps either way
    tau = timescale.ema_timescale(style, wd, lr)
    x = torch.nn.Parameter(torch.ones(3))
    opt = optimizers.create("adamw", [x], lr=lr, weight_decay=wd, decay=style)
    steps = round(tau)
    assert steps == pytest.approx(tau)
    for _ in range(steps):
        x.grad = torch.zeros(3)
        opt.step()
    assert float(x.detach()[0]) == pytest.approx((1 - 1 / tau) ** steps, rel=1e-5)


@pytest.mark.parametrize("style, lr, tau, expected", [
    ("decoupled", 1e-3, 1000.0, 1.0), ("corrected", 1e-2, 100.0, 1.0),
    ("independent", 1e-3, 50.0, 0.02), ("fixed", 1e-1, 50.0, 0.02)])
def test_weight_decay_for_inverts_the_timescale(style, lr, tau, expected):
    wd = timescale.weight_decay_for(style, tau, lr)
    assert wd == pytest.approx(expected, rel=1e-12)
    assert timescale.ema_timescale(style, wd, lr) == pytest.approx(tau, rel=1e-12)


def test_styles_without_a_timescale_refuse_tau():
    for style in ("coupled", "cautious", "none"):
        with pytest.raises(ValueError, match="has no EMA timescale"):
            timescale.weight_decay_for(style, 100.0, 1e-3)
    with pytest.raises(ValueError, match="> 0"):
        timescale.weight_decay_for(DecayStyle.DECOUPLED, -1.0, 1e-3)
    assert not math.isnan(timescale.weight_decay_for("decoupled", 1e6, 1e-3))
