"""Muon direction (Jordan et al. 2024; torch.optim.Muon): the orthogonalized momentum for hidden
matrices, steepest descent for the spectral norm; an Adam direction for everything else.

For a hidden matrix W with gradient g (SPEC §2):

    m <- mu m + (1 - mu) g;   u = (1 - mu) g + mu m  (nesterov)  or  u = m
    O = NewtonSchulz(u)  (torch's quintic, 5 steps, in bfloat16)  or  U Vᵀ  (orthogonalize="svd")
    d = s O,  with s the shape adjustment of torch's `adjust_lr_fn`:
        "original"         s = max(1, rows/cols)^½           (Keller Jordan's Muon)
        "match_rms_adamw"  s = 0.2 · max(rows, cols)^½       (Moonshot: RMS of AdamW's update)

With decoupled decay, x <- (1 - lr λ) x - lr d is Frank-Wolfe on the spectral ball
σ_max(W) <= s/λ (‖O‖_2 <= 1). Newton-Schulz maps the singular values into roughly (0.7, 1.2),
not onto 1, so the radius actually reached is measured (docs/results/matrix-quadratic.md);
"svd" gives the exact polar factor, and the radius s/λ.

The common recipe: embeddings, the output head, biases and norm scales (every tensor that is not
a 2-D hidden matrix, see `hidden_matrix`) take Adam's direction m̂ / (√v̂ + ε), scaled by
`adam_lr_ratio`, with the same λ: their box is ‖x‖∞ <= adam_lr_ratio / λ. The decay style
(coupled for `muon_l2`: λW enters g before the momentum and the orthogonalization) is applied by
DecayedOptimizer, never here.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from optimizers.base import DecayedOptimizer

# torch.optim.Muon's constants (Keller Jordan's quintic coefficients).
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
NS_STEPS = 5
NS_EPS = 1e-7
ADJUST_LR_FNS = ("original", "match_rms_adamw")
ORTHOGONALIZERS = ("newton_schulz", "svd")
# Name parts that mark a matrix as an embedding or an output head, not a hidden layer.
NOT_HIDDEN = ("wte", "wpe", "embed", "embedding", "embeddings", "emb", "tok_emb", "pos_emb",
              "lm_head", "head", "classifier", "output")


def hidden_matrix(name: str | None, tensor: Tensor) -> bool:
    """The recipe's Muon tensors: 2-D, and (when the name is known) no embedding or head part
    in its dotted name. Conv filters (4-D) and vectors take the Adam direction."""
    if tensor.ndim != 2:
        return False
    return name is None or not any(part in NOT_HIDDEN for part in name.lower().split("."))


def muon_norm_for(name: str, tensor: Tensor) -> str:
    """The norm Muon's update is steepest for, per tensor: spectral on hidden matrices, l_inf
    (Adam's box) elsewhere."""
    return "spectral" if hidden_matrix(name, tensor) else "linf"


def lr_adjustment(adjust_lr_fn: str, shape: torch.Size | tuple[int, ...]) -> float:
    """torch.optim.Muon's shape factor s (the update is s O; the spectral radius is s/λ)."""
    rows, cols = shape[0], shape[1]
    if adjust_lr_fn == "original":
        return math.sqrt(max(1.0, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, cols))
    raise ValueError(f"adjust_lr_fn must be one of {ADJUST_LR_FNS}, got {adjust_lr_fn!r}")


def newton_schulz(u: Tensor, coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
                  steps: int = NS_STEPS, eps: float = NS_EPS) -> Tensor:
    """torch.optim.Muon's quintic Newton-Schulz iteration, op for op (bfloat16): ≈ U Vᵀ."""
    a, b, c = coefficients
    x = u.bfloat16()
    tall = u.size(0) > u.size(1)
    if tall:
        x = x.T
    x = x.div(x.norm().clamp(min=eps))  # Frobenius >= spectral: sigma_max <= 1
    for _ in range(steps):
        gram = x @ x.T
        x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.T if tall else x


def polar_factor(u: Tensor) -> Tensor:
    """The exact orthogonalization U Vᵀ of u = U Σ Vᵀ (float64 SVD); zero singular values map
    to zero, as Newton-Schulz maps them."""
    mat = u.to(torch.float64)
    left, sigma, right = torch.linalg.svd(mat, full_matrices=False)
    keep = (sigma > sigma.max() * 1e-12).to(mat) if sigma.numel() else sigma
    return (left * keep) @ right


class Muon(DecayedOptimizer):
    """Muon on hidden matrices, Adam elsewhere (see the module docstring); one param group can
    hold both: each tensor is classified by `hidden_matrix`, with its name when the group was
    given named parameters (torch's `param_names`), else by shape alone."""

    direction = "muon"

    def __init__(self, params: Any, lr: float = 1e-3, weight_decay: float = 0.0,
                 decay: str = "decoupled", momentum: float = 0.95, nesterov: bool = True,
                 ns_coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
                 ns_steps: int = NS_STEPS, eps: float = NS_EPS,
                 adjust_lr_fn: str = "original", orthogonalize: str = "newton_schulz",
                 betas: tuple[float, float] = (0.9, 0.95), adam_eps: float = 1e-8,
                 adam_lr_ratio: float = 1.0) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if adjust_lr_fn not in ADJUST_LR_FNS:
            raise ValueError(f"adjust_lr_fn must be one of {ADJUST_LR_FNS}, got {adjust_lr_fn!r}")
        if orthogonalize not in ORTHOGONALIZERS:
            raise ValueError(f"orthogonalize must be one of {ORTHOGONALIZERS}, "
                             f"got {orthogonalize!r}")
        if not 0 < ns_steps < 100:
            raise ValueError(f"ns_steps must be in 1..99, got {ns_steps}")
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        if not adam_lr_ratio > 0:
            raise ValueError(f"adam_lr_ratio must be > 0, got {adam_lr_ratio}")
        super().__init__(params, lr, weight_decay, decay, momentum=momentum, nesterov=nesterov,
                         ns_coefficients=tuple(ns_coefficients), ns_steps=ns_steps, eps=eps,
                         adjust_lr_fn=adjust_lr_fn, orthogonalize=orthogonalize,
                         betas=tuple(betas), adam_eps=adam_eps, adam_lr_ratio=adam_lr_ratio)

    # --- which tensor gets which -----------------------------------------------------------
    def _group_of(self, p: Tensor) -> dict[str, Any]:
        return next(g for g in self.param_groups if any(q is p for q in g["params"]))

    def _name_of(self, p: Tensor, group: dict[str, Any]) -> str | None:
        names = group.get("param_names")
        if not names:
            return None
        return next(n for n, q in zip(names, group["params"]) if q is p)

    def orthogonalized(self, p: Tensor) -> bool:
        """Whether p takes the Muon direction (else Adam's)."""
        return hidden_matrix(self._name_of(p, self._group_of(p)), p)

    def tensor_geometry(self, p: Tensor) -> tuple[str, float]:
        """(norm, s): p's update is steepest for `norm` and has norm <= s, so its implied ball is
        {norm(x) <= s r}, r the decay style's radius (1/λ decoupled)."""
        group = self._group_of(p)
        if hidden_matrix(self._name_of(p, group), p):
            return "spectral", lr_adjustment(group["adjust_lr_fn"], p.shape)
        return "linf", group["adam_lr_ratio"]

    # --- the direction ---------------------------------------------------------------------
    def _directions(self, group: dict[str, Any], params: list[Tensor],
                    grads: list[Tensor]) -> list[Tensor]:
        names = dict(zip(map(id, group["params"]), group.get("param_names") or []))
        return [self._muon(group, p, g) if hidden_matrix(names.get(id(p)), p)
                else self._adam(group, p, g) for p, g in zip(params, grads)]

    def _muon(self, group: dict[str, Any], p: Tensor, g: Tensor) -> Tensor:
        mu = group["momentum"]
        buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(p))
        buf.lerp_(g, 1 - mu)
        u = g.lerp(buf, mu) if group["nesterov"] else buf
        if group["orthogonalize"] == "svd":
            ortho = polar_factor(u)
        else:
            ortho = newton_schulz(u, group["ns_coefficients"], group["ns_steps"], group["eps"])
        return ortho.to(p.dtype).mul_(lr_adjustment(group["adjust_lr_fn"], p.shape))

    def _adam(self, group: dict[str, Any], p: Tensor, g: Tensor) -> Tensor:
        state = self.state[p]
        if "exp_avg" not in state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        beta1, beta2 = group["betas"]
        state["step"] += 1
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        correction1 = 1 - beta1 ** state["step"]
        correction2 = 1 - beta2 ** state["step"]
        denom = (v.sqrt() / math.sqrt(correction2)).add_(group["adam_eps"])
        return (m / denom).mul_(group["adam_lr_ratio"] / correction1)


MUON_LR = (3e-3, 1e-2, 2e-2, 5e-2)
MUON_DECOUPLED_WD = (0.01, 0.03, 0.1, 0.3)
MUON_COUPLED_WD = (1e-5, 1e-4, 1e-3, 1e-2)


def register_muon(registry: Any) -> None:
    """`muon` (decoupled: Frank-Wolfe on the spectral ball s/λ) and `muon_l2` (coupled)."""
    from functools import partial

    rows = [
        ("muon", "decoupled", {"lr": 2e-2, "weight_decay": 0.1}, MUON_DECOUPLED_WD,
         "Muon (orthogonalized momentum) on hidden matrices, Adam elsewhere; decoupled decay"),
        ("muon_l2", "coupled", {"lr": 2e-2, "weight_decay": 1e-4}, MUON_COUPLED_WD,
         "Muon on loss + l2 penalty: lambda W enters g before momentum and orthogonalization"),
    ]
    for name, decay, defaults, wds, text in rows:
        registry.register(name, decay_style=decay, direction="muon", defaults=defaults,
                          lr_grid=MUON_LR, weight_decay_grid=wds, norm="spectral",
                          norm_rule=muon_norm_for, description=text)(partial(Muon, decay=decay))
