"""Exact box-constrained QP:  min ½ (x - c)ᵀ H (x - c)  s.t.  ||x||_∞ <= r,  H positive definite.

Projected FISTA (with gradient-mapping restarts) finds the active set; an active-set Newton
step then solves the free coordinates exactly. The answer is accepted only once it is feasible
and its Frank-Wolfe gap  <g, x> + r ||g||_1  is below `tol`, so KKT holds to that tolerance.
"""

from __future__ import annotations

import torch
from torch import Tensor


def fw_gap(hessian: Tensor, c: Tensor, x: Tensor, radius: float) -> float:
    g = hessian @ (x - c)
    return float(g @ x + radius * g.abs().sum())


def solve_box_qp(hessian: Tensor, c: Tensor, radius: float, tol: float = 1e-9,
                 max_iter: int = 200_000, polish_every: int = 25) -> Tensor:
    """The box optimum in float64. Raises RuntimeError if `tol` is not reached."""
    H = hessian.to(torch.float64)
    c = c.to(torch.float64)
    step = 1.0 / float(torch.linalg.eigvalsh(H).max())
    x = c.clamp(-radius, radius)
    y, t = x.clone(), 1.0
    best = x
    for it in range(1, max_iter + 1):
        x_new = (y - step * (H @ (y - c))).clamp(-radius, radius)
        if float((y - x_new) @ (x_new - x)) > 0:  # momentum points uphill: restart
            t = 1.0
            y = x_new.clone()
        else:
            t_new = (1.0 + (1.0 + 4.0 * t * t) ** 0.5) / 2.0
            y = x_new + ((t - 1.0) / t_new) * (x_new - x)
            t = t_new
        x = x_new
        if it % polish_every == 0:
            candidate = _polish(H, c, x, radius)
            if candidate is not None and fw_gap(H, c, candidate, radius) <= tol:
                return candidate
            best = x
    raise RuntimeError(f"box QP not solved to fw_gap <= {tol} in {max_iter} iterations "
                       f"(fw_gap {fw_gap(H, c, best, radius):.3g})")


def _polish(H: Tensor, c: Tensor, x: Tensor, radius: float) -> Tensor | None:
    """Keep coordinates on the bound, solve grad_F = 0 for the rest; None if infeasible."""
    active = x.abs() >= radius
    free = ~active
    out = x.clone()
    out[active] = radius * x[active].sign()
    if free.any():
        rhs = H[free][:, active] @ (out[active] - c[active])
        out[free] = c[free] - torch.linalg.solve(H[free][:, free], rhs)
        if float(out[free].abs().max()) > radius:
            return None
    return out
