"""The KKT residual of SPEC §3: the Frank-Wolfe gap now as a share of its value at the initial
point, kkt_residual = fw_gap(x_t) / fw_gap(x_0), same radius, same gradient rule.

fw_gap(x; r) = Σ over tensors of <g, x> + r N*(g) is 0 exactly at every KKT point of
min L(x) s.t. x in the ball (interior ones included, where g = 0), but its size is the loss's:
dividing by its value at x_0 makes it comparable across tasks and runs. (fw_gap_rel divides by
r N*(g), the gradient's own size, instead: 1 + <g, x>/(r N*(g)) ≥ 1 - N(x)/r whatever g, so it
stays near 1 at an interior KKT point however small g gets.)

The initial point's gap is kept as its two radius-free terms per tensor, <g0, x0> and N*(g0)
(`start_terms`), so that it can be re-evaluated at the radius of every later evaluation: the
decay styles `fixed` and `corrected` move the radius with η_t. Two geometries: `box` (ℓ∞ for
every tensor, the kkt_residual beside fw_gap) and `ball` (each tensor's own norm,
ball_kkt_residual beside ball_fw_gap). Pure arithmetic on numbers the probe already has.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from torch import Tensor

from bench.measures import metrics

# fw_gap(x_0) at or below this share of its scale r·N*(g0) leaves the residual undefined (NaN):
# x_0 is a KKT point already to float precision, or lies outside its ball (the gap is then
# ≤ 0 possibly), and no later gap is a meaningful share of it.
START_FLOOR = 1e-9

# geometry -> tensor name -> [<g0, x0>, N*(g0)]; plain lists: a checkpoint stores it as JSON.
StartTerms = dict[str, dict[str, list[float]]]


def start_terms(named_params: Mapping[str, Tensor], named_grads: Mapping[str, Tensor | None],
                geometries: Mapping[str, Mapping[str, Any]]) -> StartTerms:
    """The initial point's gap terms in both geometries: `box` (ℓ∞, dual ℓ1, for every tensor)
    and `ball` (the norm `geometries[name]["norm"]`; a tensor missing there is left out)."""
    own = {n: geometries[n]["norm"] for n in named_params if n in geometries}
    box = metrics.gap_terms(named_params, named_grads, "linf")
    ball = metrics.gap_terms({n: named_params[n] for n in own}, named_grads, own)
    return {"box": {n: list(v) for n, v in box.items()},
            "ball": {n: list(v) for n, v in ball.items()}}


def start_gap(terms: Mapping[str, list[float]], radii: Mapping[str, float]) -> float:
    """fw_gap(x_0) over the tensors of `radii`, each at its radius; NaN where it is undefined
    (a tensor without start terms, or a gap at or below START_FLOOR of its scale)."""
    if not radii or any(n not in terms for n in radii):
        return math.nan
    gap = sum(terms[n][0] + r * terms[n][1] for n, r in radii.items())
    scale = sum(r * terms[n][1] for n, r in radii.items())
    return gap if scale > 0 and gap > START_FLOOR * scale else math.nan


def residual(gap: float, terms: Mapping[str, list[float]] | None,
             radii: Mapping[str, float]) -> float:
    """gap / fw_gap(x_0) over the tensors of `radii` (NaN without start terms, or where
    fw_gap(x_0) is undefined). Negative where x_t is outside its ball (fw_gap < 0 there)."""
    if terms is None:
        return math.nan
    return gap / start_gap(terms, radii)


def attach(start: StartTerms | None, radius: float | None,
           geometries: Mapping[str, Mapping[str, Any]], names: list[str],
           overall: dict[str, float], tensors: dict[str, dict[str, float]]) -> None:
    """Add kkt_residual and ball_kkt_residual to `overall` and to each entry of `tensors`
    (from the fw_gap / ball_fw_gap already there), for the tensors `names` at `radius`
    (the box's; a tensor's ball is radius × its geometry's scale). NaN without a radius."""
    start = start or {}
    if radius is None:
        box, ball = {}, {}
    else:
        box = dict.fromkeys(names, radius)
        ball = {n: radius * geometries[n]["scale"] for n in names if n in geometries}
    overall["kkt_residual"] = (residual(overall["fw_gap"], start.get("box"), box)
                               if box else math.nan)
    overall["ball_kkt_residual"] = (residual(overall["ball_fw_gap"], start.get("ball"), ball)
                                    if ball else math.nan)
    for n, values in tensors.items():
        values["kkt_residual"] = (residual(values["fw_gap"], start.get("box"), {n: box[n]})
                                  if n in box else math.nan)
        values["ball_kkt_residual"] = (
            residual(values["ball_fw_gap"], start.get("ball"), {n: ball[n]})
            if n in ball and "ball_fw_gap" in values else math.nan)
