"""Per-layer statistics the claims read from a trial's curve: which decayed tensors are
scale-invariant (followed by a normalization), their angular updates' spread (Kosson et al.,
claim 10) and their gradient-to-weight ratio ‖g‖/‖x‖ (AdamC, claim 11), over windows of
evaluation points. Pure functions of a TrialView.

A tensor counts as scale-invariant when the probe gradient is orthogonal to it at every
evaluation point that recorded both: |⟨g, x⟩|/(‖g‖‖x‖) ≤ SCALE_INVARIANT_COS (for a layer
followed by BatchNorm in training mode the loss does not change when x is scaled, so the
cosine is 0 up to rounding: ~1e-6 in float32; an unnormalized layer's is ~0.1). The records
carry the cosine (bench/measures/grad_ratio.py), so no claim needs to know the architecture.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from bench.claims.records import TrialView, number
from bench.measures.grad_ratio import KEY
from bench.measures.rotation import cv

SCALE_INVARIANT_COS = 1e-3


def _grad_weight(point: Mapping[str, Any], part: str) -> Mapping[str, Any]:
    return (point.get(KEY) or {}).get(part) or {}


def scale_invariant(trial: TrialView) -> list[str]:
    """The tensors whose gradient stayed orthogonal to them (see the module doc), sorted."""
    seen: dict[str, bool] = {}
    for point in trial.curve:
        for name, value in _grad_weight(point, "cosine").items():
            value = number(value)
            if value is not None:
                seen[name] = seen.get(name, True) and abs(value) <= SCALE_INVARIANT_COS
    return sorted(n for n, ok in seen.items() if ok)


def points(trial: TrialView, start: float = 0.0, end: float = math.inf,
           lr_floor: float | None = None) -> list[Mapping[str, Any]]:
    """Evaluation points with start < step ≤ end (and scheduled lr ≥ lr_floor)."""
    out = []
    for p in trial.curve:
        step = number(p.get("step"))
        if step is None or not start < step <= end:
            continue
        lr = number(p.get("scheduled_lr"))
        if lr_floor is not None and (lr is None or lr < lr_floor):
            continue
        out.append(p)
    return out


def angular_cv(point: Mapping[str, Any], names: Sequence[str]) -> float | None:
    """Spread (std/mean) of one step's angular update over the tensors `names`."""
    angles = (point.get("rotation") or {}).get("angular_update") or {}
    values = [number(angles.get(n)) for n in names]
    if any(v is None for v in values):
        return None
    return cv(values)


def log_ratio(point: Mapping[str, Any], names: Sequence[str]) -> float | None:
    """Mean over the tensors `names` of log(‖g‖/‖x‖) (the log of their geometric mean)."""
    ratios = _grad_weight(point, "ratio")
    values = [number(ratios.get(n)) for n in names]
    if not values or any(v is None or v <= 0 for v in values):
        return None
    return sum(math.log(v) for v in values) / len(values)


def mean_over(values: Sequence[float | None]) -> float | None:
    """The mean of the defined values (None without any)."""
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None
