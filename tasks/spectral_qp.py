"""Exact spectral-ball QP:  min ½ <W - C, A (W - C) B>  s.t.  σ_max(W) <= r,  A, B positive
definite (the anisotropic matrix quadratic; A = B = I is the isotropic one, with the closed form
U min(Σ, r) Vᵀ that `project_spectral` computes).

Projected FISTA with the exact projection (clip the singular values) and gradient-mapping
restarts. The answer is accepted only once its Frank-Wolfe gap <G, W> + r ||G||_* (nuclear norm)
is below `tol`, so KKT holds to that tolerance.
"""

from __future__ import annotations

import torch
from torch import Tensor


def project_spectral(w: Tensor, radius: float) -> Tensor:
    """The nearest point (Frobenius) of the spectral ball: U min(Σ, r) Vᵀ."""
    u, s, vh = torch.linalg.svd(w, full_matrices=False)
    return (u * s.clamp(max=radius)) @ vh


def spectral_fw_gap(left: Tensor, right: Tensor, c: Tensor, w: Tensor, radius: float) -> float:
    g = left @ (w - c) @ right
    return float((g * w).sum() + radius * torch.linalg.svdvals(g).sum())


def solve_spectral_qp(left: Tensor, right: Tensor, c: Tensor, radius: float, tol: float = 1e-9,
                      max_iter: int = 100_000, check_every: int = 10) -> Tensor:
    """The spectral-ball optimum in float64. Raises RuntimeError if `tol` is not reached."""
    a, b, c = left.to(torch.float64), right.to(torch.float64), c.to(torch.float64)
    step = 1.0 / float(torch.linalg.eigvalsh(a).max() * torch.linalg.eigvalsh(b).max())
    x = project_spectral(c, radius)
    y, t = x.clone(), 1.0
    for it in range(1, max_iter + 1):
        x_new = project_spectral(y - step * (a @ (y - c) @ b), radius)
        if float(((y - x_new) * (x_new - x)).sum()) > 0:  # momentum points uphill: restart
            t, y = 1.0, x_new.clone()
        else:
            t_new = (1.0 + (1.0 + 4.0 * t * t) ** 0.5) / 2.0
            y = x_new + ((t - 1.0) / t_new) * (x_new - x)
            t = t_new
        x = x_new
        if it % check_every == 0 and spectral_fw_gap(a, b, c, x, radius) <= tol:
            return x
    raise RuntimeError(f"spectral QP not solved to fw_gap <= {tol} in {max_iter} iterations "
                       f"(fw_gap {spectral_fw_gap(a, b, c, x, radius):.3g})")
