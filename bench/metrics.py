"""Constraint-satisfaction metrics of SPEC §3: is x inside its l_inf box, and how close to a KKT
point of  min L(x) s.t. ||x||_inf <= r  (or to a stationary point of L + (wd/2)||x||^2).

Pure tensor math, no I/O. Each tensor is reduced once to a few float64 sums (`_STATS`); global
and per-tensor metrics are both computed from those sums, with a single device sync.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import Tensor

METRIC_NAMES = ("linf_ratio", "violation", "fw_gap", "fw_gap_rel", "boundary_frac",
                "l2_stationarity", "grad_l1_l2")

# Per-tensor sufficient statistics, in this order (max for xmax, sums for the rest).
_STATS = ("xmax", "g_l1", "g_sq", "x_sq", "gx", "stat_sq", "n_boundary", "numel")


def constraint_metrics(params: Sequence[Tensor], grads: Sequence[Tensor | None],
                       weight_decay: float, radius: float | None = None,
                       tau: float = 0.01) -> dict[str, float]:
    """SPEC §3 metrics over all `params` together (the decayed set), with gradients `grads`.

    `radius` defaults to 1/weight_decay; with weight_decay = 0 and no radius there is no box,
    and the box metrics are NaN (`l2_stationarity` and `grad_l1_l2` stay defined). A `None`
    gradient counts as zero. At g = 0: fw_gap = fw_gap_rel = 0 (x is stationary) and
    grad_l1_l2 is NaN (0/0).
    """
    r = _radius(weight_decay, radius)
    stats = _stats_table(params, grads, weight_decay, r, tau)
    totals = stats.sum(dim=0)
    totals[0] = stats[:, 0].max() if len(stats) else 0.0
    return _metrics(totals.tolist(), weight_decay, r)


def per_tensor_metrics(named_params: Mapping[str, Tensor] | Iterable[tuple[str, Tensor]],
                       named_grads: Mapping[str, Tensor | None] | Iterable[
                           tuple[str, Tensor | None]],
                       weight_decay: float, radius: float | None = None,
                       tau: float = 0.01) -> dict[str, dict[str, float]]:
    """The same metrics for each tensor on its own: name -> {metric: value}.

    Gradients are matched to parameters by name; a name missing from `named_grads` counts as a
    zero gradient. fw_gap over all tensors is the sum of the per-tensor fw_gaps.
    """
    params = dict(named_params)
    grads = dict(named_grads)
    r = _radius(weight_decay, radius)
    names = list(params)
    stats = _stats_table([params[n] for n in names], [grads.get(n) for n in names],
                         weight_decay, r, tau)
    return {n: _metrics(row, weight_decay, r) for n, row in zip(names, stats.tolist())}


def _radius(weight_decay: float, radius: float | None) -> float | None:
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
    if radius is not None:
        if not radius > 0:
            raise ValueError(f"radius must be > 0, got {radius}")
        return float(radius)
    return 1.0 / weight_decay if weight_decay > 0 else None


def _stats_table(params: Sequence[Tensor], grads: Sequence[Tensor | None], weight_decay: float,
                 radius: float | None, tau: float) -> Tensor:
    """(num_tensors, len(_STATS)) float64 table on the CPU; one transfer for all tensors."""
    if len(params) != len(grads):
        raise ValueError(f"got {len(params)} parameters but {len(grads)} gradients")
    if not params:
        return torch.zeros(0, len(_STATS), dtype=torch.float64)
    threshold = (1.0 - tau) * radius if radius is not None else math.inf
    device = params[0].device
    rows, numels = [], []
    for p, g in zip(params, grads):
        x = p.detach().reshape(-1).to(device=device, dtype=torch.float64)
        g = torch.zeros_like(x) if g is None else g.detach().reshape(-1).to(x)
        numels.append(float(x.numel()))
        if x.numel() == 0:
            rows.append(x.new_zeros(len(_STATS) - 1))
            continue
        ax = x.abs()
        stationarity = g + weight_decay * x
        rows.append(torch.stack([
            ax.max(), g.abs().sum(), g.dot(g), x.dot(x), g.dot(x),
            stationarity.dot(stationarity), (ax >= threshold).sum().to(torch.float64),
        ]))
    table = torch.stack(rows).cpu()  # the one device sync
    return torch.cat([table, torch.tensor(numels, dtype=torch.float64)[:, None]], dim=1)


def _metrics(stats: Sequence[float], weight_decay: float,
             radius: float | None) -> dict[str, float]:
    xmax, g_l1, g_sq, x_sq, gx, stat_sq, n_boundary, numel = stats
    nan = math.nan
    g_l2 = math.sqrt(g_sq)
    denom = g_l2 + weight_decay * math.sqrt(x_sq)
    out = {
        "l2_stationarity": math.sqrt(stat_sq) / denom if denom > 0 else 0.0,
        "grad_l1_l2": g_l1 / g_l2 if g_l2 > 0 else nan,
    }
    if radius is None:
        box = dict.fromkeys(("linf_ratio", "violation", "fw_gap", "fw_gap_rel",
                             "boundary_frac"), nan)
    else:
        linf_ratio = xmax / radius
        fw_gap = gx + radius * g_l1
        box = {
            "linf_ratio": linf_ratio,
            "violation": max(0.0, linf_ratio - 1.0),
            "fw_gap": fw_gap,
            "fw_gap_rel": fw_gap / (radius * g_l1) if g_l1 > 0 else 0.0,
            "boundary_frac": n_boundary / numel if numel > 0 else nan,
        }
    return {name: ({**box, **out})[name] for name in METRIC_NAMES}
