"""Which ball each decayed tensor is driven into, and the per-norm metrics of SPEC §3 on it.

A tensor's geometry is (norm, scale): the optimizer's update on it is steepest for `norm` and has
that norm <= scale, so decoupled decay implies the ball {norm(x) <= scale * r} (r = 1/λ for the
decoupled style). Optimizers that treat tensors differently (Muon) say so with
`tensor_geometry(p)`; for the rest it is the registry's `spec.norm_for(name, p)` with scale 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from bench.measures import metrics
from optimizers.muon import lr_adjustment


def tensor_geometries(optimizer: torch.optim.Optimizer, spec: Any,
                      named_params: Mapping[str, Tensor]) -> dict[str, dict[str, Any]]:
    """name -> {"norm": ..., "scale": ...} for each tensor (recorded in the mask info)."""
    inner = getattr(optimizer, "optimizer", optimizer)  # Accelerate's wrapper, under fp16
    own = getattr(inner, "tensor_geometry", None)
    out = {}
    for name, p in named_params.items():
        norm, scale = own(p) if own is not None else (spec.norm_for(name, p), 1.0)
        out[name] = {"norm": norm, "scale": float(scale)}
    return out


def geometry_record(geometries: Mapping[str, Mapping[str, Any]],
                    named_params: Mapping[str, Tensor], named_grads: Mapping[str, Tensor],
                    radius: float) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Metrics in each tensor's own ball (`ball_*`), plus the other geometries' ratios:
    `spectral_ratio` (max sigma_max(W) / (s r); s the optimizer's own scale on its spectral
    tensors, torch Muon's default "original" rule on the others) and `l2_ratio` (max ||x||_2 / r).
    `linf_ratio` comes from `metrics.constraint_metrics`."""
    names = [n for n in named_params if n in geometries]
    params = {n: named_params[n] for n in names}
    norms = {n: geometries[n]["norm"] for n in names}
    radii = {n: radius * geometries[n]["scale"] for n in names}
    overall, per_tensor = metrics.geometry_metrics(params, named_grads, norms, radii)
    spectral = {n: radii[n] if norms[n] == "spectral"
                else radius * lr_adjustment("original", metrics.as_matrix(p).shape)
                for n, p in params.items() if p.ndim >= 2}
    ratios = metrics.geometry_ratios(params, {"spectral": spectral, "l2": radius})
    return {**overall, **ratios}, per_tensor
