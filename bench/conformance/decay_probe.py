"""Measure where an optimizer's weight decay enters, from the outside (its code is not read).

A probe feeds the optimizer a fixed gradient stream with weight_decay = λ, and compares the
trajectory with *emulations* of each decay style, built from the same optimizer at
weight_decay = 0 with the decay of that style added by hand, from the decay stage's own terms
(`optimizers.decay.decay_terms`, η_0 = the initial lr as η_max):

  decoupled    x <- (1 - η_t λ) x before each step            (AdamW; shrink exactly η_t λ)
  independent  x <- (1 - (η_t / η_0) λ) x before each step
  fixed        x <- (1 - λ) x before each step, whatever the lr
  corrected    x <- (1 - η_t λ η_t / η_0) x before each step   (AdamC)
  cautious     the step, then x <- x - η_t λ x where the step and x agree in sign (the
               direction d = (x_before - x_after) / η_t is read off the λ = 0 step)
  coupled      the optimizer is handed g + λ x as its gradient (Adam + ℓ2)
  none         nothing: the λ = 0 run itself

The style whose emulation reproduces the λ run is the measured semantics. Two streams:
a zero gradient, where the decay alone moves x (decoupled shrinks it by exactly η λ per step;
coupled Adam or SignGD by ~η per step, sign-like, whatever λ is; coupled plain SGD by η λ too,
because there coupled and decoupled are the same algorithm; cautious decay decays every
coordinate, since d = 0 agrees with any sign), and a mixed stream in which half the coordinates
carry gradients much larger than λ x, which catches decay that interacts with the gradient
(cautious decay skips the coordinates the gradient pushes away from zero). The lr halves
midway, so the styles that follow the schedule (independent, corrected) separate from
decoupled decay, from each other and from a constant shrink (fixed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from optimizers.decay import decay_terms

Make = Callable[..., torch.optim.Optimizer]
HYPOTHESES = ("decoupled", "independent", "fixed", "corrected", "cautious", "coupled", "none")
# The styles whose zero-gradient effect is a multiplicative shrink, summarised per step.
SHRINKING = ("decoupled", "independent", "fixed", "corrected")
# Largest trajectory deviation from an emulation, as a share of the decay's effect, that still
# counts as a match. The zero stream leaves only rounding; the mixed stream also tolerates
# applying the shrink after the step instead of before (a difference of order η |d| / |x|).
TOLERANCE = {"zero_gradient": 1e-2, "mixed_gradient": 0.05}
# Effects below this (parameters are O(1)) are rounding noise, not decay.
NOISE_FLOOR = 1e-6


@dataclass(frozen=True)
class ProbeSettings:
    # η λ = 5e-4 for the lr-proportional styles; λ = 0.1 per step for `fixed`: both clear of
    # rounding, and x never collapses to 0 (which would hide the schedule's effect).
    lr: float = 5e-3
    weight_decay: float = 0.1
    steps: int = 8  # the lr halves after steps // 2
    seed: int = 0


# A matrix and a vector; two matrices for optimizers that take matrices only (torch.optim.Muon).
VECTOR_SHAPES: tuple[tuple[int, ...], ...] = ((6, 8), (16,))
MATRIX_SHAPES: tuple[tuple[int, ...], ...] = ((6, 8), (4, 4))


def probe_shapes(make: Make) -> tuple[tuple[int, ...], ...]:
    """VECTOR_SHAPES, or MATRIX_SHAPES when the optimizer refuses a vector at construction but
    takes a matrix. Refusing both keeps VECTOR_SHAPES: the caller's own error then says why."""
    def accepts(shape: tuple[int, ...]) -> bool:
        try:
            make([torch.nn.Parameter(torch.zeros(shape))], lr=1e-3, weight_decay=0.1)
        except Exception:  # noqa: BLE001 - any refusal counts
            return False
        return True

    return MATRIX_SHAPES if not accepts((2,)) and accepts((2, 2)) else VECTOR_SHAPES


def initial_params(seed: int, shapes: tuple[tuple[int, ...], ...] = VECTOR_SHAPES
                   ) -> list[Tensor]:
    """A multi-tensor group (`shapes`) with |x| in [0.5, 1.5] and mixed signs."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for shape in shapes:
        magnitude = 0.5 + torch.rand(shape, generator=gen)
        sign = torch.where(torch.rand(shape, generator=gen) < 0.5, -1.0, 1.0)
        out.append(magnitude * sign)
    return out


def gradient_stream(kind: str, params: list[Tensor], steps: int, seed: int) -> list[list[Tensor]]:
    """Per-step gradients. 'mixed': |g| in [2, 3] on a fixed half of the coordinates, well above
    λ|x| (so sign(g + λx) never sits near a tie), and 0 on the rest."""
    if kind == "zero_gradient":
        return [[torch.zeros_like(p) for p in params] for _ in range(steps)]
    gen = torch.Generator().manual_seed(seed + 1)
    masks = [torch.rand(p.shape, generator=gen) < 0.5 for p in params]
    stream = []
    for _ in range(steps):
        step = []
        for p, mask in zip(params, masks):
            g = (2.0 + torch.rand(p.shape, generator=gen)) * torch.where(
                torch.rand(p.shape, generator=gen) < 0.5, -1.0, 1.0)
            step.append(g * mask)
        stream.append(step)
    return stream


def lr_schedule(settings: ProbeSettings) -> list[float]:
    half = settings.steps // 2
    return [settings.lr] * half + [settings.lr / 2] * (settings.steps - half)


def trajectory(make: Make, x0: list[Tensor], grads: list[list[Tensor]], lrs: list[float],
               weight_decay: float, emulate: str = "none", emulated_wd: float = 0.0) -> Tensor:
    """Run the optimizer on a gradient stream; returns x after each step, shape (steps, n).

    `emulate` adds `emulated_wd` by hand in the given style (the optimizer runs at
    `weight_decay`, 0 when emulating)."""
    params = [torch.nn.Parameter(x.clone()) for x in x0]
    opt = make(params, lr=lrs[0], weight_decay=weight_decay)
    states = []
    for lr, grad in zip(lrs, grads):
        for group in opt.param_groups:
            group.setdefault("initial_lr", lrs[0])  # what torch's lr schedulers record
            group["lr"] = lr
        terms = decay_terms(emulate, emulated_wd, lr, lrs[0])
        with torch.no_grad():
            if terms.shrink != 1.0 and not terms.cautious:
                torch._foreach_mul_(params, terms.shrink)
            for p, g in zip(params, grad):
                # A fresh tensor each step: some optimizers modify .grad in place.
                p.grad = g.add(p, alpha=terms.coupled) if terms.coupled else g.clone()
            before = [p.detach().clone() for p in params]
        opt.step()
        if terms.cautious:
            with torch.no_grad():
                for p, x in zip(params, before):
                    agree = (x - p) * x >= 0  # the step -η d moves x toward 0: d x >= 0
                    p.sub_(x * agree, alpha=1.0 - terms.shrink)
        states.append(torch.cat([p.detach().flatten() for p in params]))
    return torch.stack(states)


@dataclass(frozen=True)
class StreamResult:
    effect: float  # max |x_λ - x_0|: how far weight decay moved the trajectory
    deviation: dict[str, float]  # per hypothesis: max |x_λ - x_emulated| / effect


def _compare(with_wd: Tensor, without: Tensor, emulations: dict[str, Tensor]) -> StreamResult:
    effect = (with_wd - without).abs().max().item()
    deviation = {}
    for name, emulated in emulations.items():
        predicted = (emulated - without).abs().max().item()
        scale = max(effect, predicted)
        miss = (with_wd - emulated).abs().max().item()
        deviation[name] = 0.0 if scale < NOISE_FLOOR else miss / scale
    return StreamResult(effect=0.0 if effect < NOISE_FLOOR else effect, deviation=deviation)


def _shrink_summary(x: Tensor, x0: list[Tensor], lrs: list[float], wd: float) -> dict[str, Any]:
    """Relative shrink 1 - x_{t+1}/x_t per step under a zero gradient (float64)."""
    path = torch.cat([torch.cat([p.flatten() for p in x0])[None], x]).double()
    ratio = 1.0 - path[1:] / path[:-1]
    step = (path[:-1] - path[1:]).abs().mean(dim=1) / torch.tensor(lrs, dtype=torch.float64)
    return {
        "shrink_per_step": [round(v, 8) for v in ratio.mean(dim=1).tolist()],
        # max - min over coordinates: 0 for a multiplicative (decoupled/independent) shrink
        "shrink_spread": [round(v, 8) for v in (ratio.max(dim=1).values
                                                - ratio.min(dim=1).values).tolist()],
        # mean |x_t - x_{t+1}| / η_t: ~1 for a sign-like move (Adam or SignGD + ℓ2)
        "step_over_lr": [round(v, 6) for v in step.tolist()],
        **{f"expected_{style}": [round(1.0 - decay_terms(style, wd, lr, lrs[0]).shrink, 8)
                                 for lr in lrs] for style in SHRINKING},
    }


@dataclass(frozen=True)
class DecayVerdict:
    semantics: str  # decoupled | independent | coupled | none | coupled=decoupled | unknown
    consistent_with: tuple[str, ...]  # every style the measurements fit
    explanation: str
    measurements: dict[str, Any]


def measure_decay(make: Make, settings: ProbeSettings | None = None) -> DecayVerdict:
    """Classify where weight decay enters, from trajectories alone."""
    settings = settings or ProbeSettings()
    shapes = probe_shapes(make)
    x0 = initial_params(settings.seed, shapes)
    lrs = lr_schedule(settings)
    wd = settings.weight_decay
    streams: dict[str, StreamResult] = {}
    measurements: dict[str, Any] = {"settings": asdict(settings), "lr_schedule": lrs,
                                    "shapes": [list(s) for s in shapes]}
    for kind in TOLERANCE:
        grads = gradient_stream(kind, x0, settings.steps, settings.seed)
        with_wd = trajectory(make, x0, grads, lrs, wd)
        without = trajectory(make, x0, grads, lrs, 0.0)
        emulations = {style: trajectory(make, x0, grads, lrs, 0.0, style, wd)
                      for style in HYPOTHESES if style != "none"}
        emulations["none"] = without
        streams[kind] = result = _compare(with_wd, without, emulations)
        measurements[kind] = {"effect": result.effect, "deviation": result.deviation,
                              "tolerance": TOLERANCE[kind]}
        if kind == "zero_gradient":
            measurements[kind].update(_shrink_summary(with_wd, x0, lrs, wd))
    fits = tuple(h for h in HYPOTHESES
                 if all(streams[k].deviation[h] <= TOLERANCE[k] for k in streams))
    return DecayVerdict(*_name(fits, measurements["zero_gradient"], settings), measurements)


# What a single matching style means, after what the zero-gradient run showed.
MEANING = {
    "decoupled": "exactly (1 - η·λ) per step, beside the update",
    "independent": "(1 - (η_t/η_0)·λ), independent of the lr's size, following its schedule",
    "fixed": "(1 - λ) per step, whatever the lr and its schedule (λ is a per-step fraction)",
    "corrected": "(1 - η_t·λ·η_t/η_0): decoupled decay whose λ follows the schedule (AdamC)",
    "cautious": ("(1 - η·λ) beside the update, but only on coordinates where the update and "
                 "the parameter agree in sign (cautious weight decay)"),
    "coupled": "λ·x enters through the gradient (ℓ2 penalty)",
}


def _name(fits: tuple[str, ...], zero: dict[str, Any],
          settings: ProbeSettings) -> tuple[str, tuple[str, ...], str]:
    lam = settings.weight_decay
    half = settings.steps // 2  # the steps at the initial lr
    shrink = zero["shrink_per_step"][:half]
    spread = max(zero["shrink_spread"][:half])
    size = f"{shrink[0]:.3g}" if max(shrink) - min(shrink) < 0.01 * max(shrink) else \
        f"{min(shrink):.3g} to {max(shrink):.3g}"
    shape = "uniformly" if spread < 0.01 * max(max(shrink), 1e-12) else \
        f"unevenly (moving ~{zero['step_over_lr'][0]:.2g}·η per step)"
    seen = (f"zero gradient: x shrinks by {size} of itself per step, {shape} "
            f"(η·λ = {settings.lr * lam:.3g}, λ = {lam:.3g})")
    if len(fits) == 1 and fits[0] in MEANING:
        return fits[0], fits, f"{seen}: {MEANING[fits[0]]}"
    if set(fits) == {"decoupled", "coupled"}:
        return "coupled=decoupled", fits, (
            f"{seen}: the update is linear in the gradient (plain SGD), so coupled and "
            "decoupled decay are the same algorithm here; either declaration agrees")
    if fits == ("none",):
        return "none", fits, "weight_decay is accepted but changes nothing (zero and nonzero " \
                             "gradients give the same trajectory as weight_decay = 0)"
    if fits:
        return "=".join(fits), fits, f"{seen}: indistinguishable between {', '.join(fits)}"
    return "unknown", fits, (f"{seen}: matches no standard decay style (see the deviations in "
                             "the probe measurements)")
