"""Rotational equilibrium (Kosson et al., arXiv 2305.17212): per decayed tensor, the weight
norm ‖W_t‖ and the angular update ∠(W_{t-1}, W_t) of one step, at evaluation points.

Decay and the update balance into an equilibrium norm and angular update per layer; the
paper finds that AdamW brings every layer to the same angular update and Adam + l2 does not.
The angle needs W_{t-1}: a step pre-hook on the optimizer copies the decayed tensors just
before a step t that is an evaluation point, and only then (one copy, freed once measured).

A curve point gets
    rotation: {"weight_norm": {tensor: ‖W_t‖_F}, "angular_update": {tensor: radians}}
    weight_norm_cv, angular_update_mean, angular_update_cv   (over tensors)
cv = standard deviation / mean over the decayed tensors (population std): 0 when every layer
rotates equally. The angular update is absent at step 0 and wherever the copy of step t-1
is missing (a step skipped by fp16 loss scaling)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch


def angle(a: torch.Tensor, b: torch.Tensor) -> float:
    """The angle between two tensors as vectors, in radians (0 where either is zero).
    2·atan2(‖â − b̂‖, ‖â + b̂‖) stays exact for the tiny angles of one step, where
    arccos(cosine) loses half its digits."""
    a, b = a.detach().double().flatten(), b.detach().double().flatten()
    na, nb = a.norm(), b.norm()
    if na == 0 or nb == 0:
        return 0.0
    ua, ub = a / na, b / nb
    return float(2.0 * torch.atan2((ua - ub).norm(), (ua + ub).norm()))


def cv(values: list[float]) -> float | None:
    """Coefficient of variation (population std / mean); None below two values or mean 0."""
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    if mean == 0:
        return None
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) / mean


def point(current: Mapping[str, torch.Tensor],
          previous: Mapping[str, torch.Tensor] | None) -> dict[str, Any]:
    """The curve-point entries of one evaluation (see the module doc)."""
    norms = {n: float(p.detach().double().norm()) for n, p in current.items()}
    out: dict[str, Any] = {"rotation": {"weight_norm": norms}, "weight_norm_cv": cv(
        list(norms.values()))}
    if previous is not None:
        angles = {n: angle(previous[n], p) for n, p in current.items() if n in previous}
        out["rotation"]["angular_update"] = angles
        out["angular_update_mean"] = (sum(angles.values()) / len(angles)) if angles else None
        out["angular_update_cv"] = cv(list(angles.values()))
    return out


class RotationWatch:
    """Keeps W_{t-1} of the decayed tensors for the steps t where `due(t)` (evaluation
    points). `done_steps()` returns the number of steps taken so far (the scheduler's count,
    which a resumed trial restores), so the hook needs no counter of its own."""

    def __init__(self, optimizer: torch.optim.Optimizer, tensors: Mapping[str, torch.Tensor],
                 due: Callable[[int], bool], done_steps: Callable[[], int]) -> None:
        self.tensors, self.due, self.done_steps = dict(tensors), due, done_steps
        self.previous: dict[str, torch.Tensor] | None = None
        self.previous_step: int | None = None
        self.handle = optimizer.register_step_pre_hook(self._before_step)

    def _before_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self.before(self.done_steps())  # W now is W_step; this step makes W_{step+1}

    def before(self, step: int) -> None:
        """Called before the step that makes W_{step+1} (by the hook, or by a loop that
        steps the tensors without this optimizer: stacked groups): copies W_step if
        step + 1 is due."""
        if self.due(step + 1):
            self.previous = {n: p.detach().clone() for n, p in self.tensors.items()}
            self.previous_step = step

    def measure(self, step: int) -> dict[str, Any]:
        """The entries of the curve point at `step` (the copy is used once, then freed)."""
        previous = self.previous if self.previous_step == step - 1 else None
        self.previous, self.previous_step = None, None
        return point(self.tensors, previous)

    def close(self) -> None:
        self.handle.remove()
