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

    `radius` defaults to 1/weight_decay; with weight_decay = 0 and no radius, or a radius of 0
    (a box of one point), there is no box, and the box metrics are NaN (`l2_stationarity` and
    `grad_l1_l2` stay defined). A `None` gradient counts as zero. At g = 0: fw_gap =
    fw_gap_rel = 0 (x is stationary) and grad_l1_l2 is NaN (0/0).
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
        if radius == 0:  # the point 0 (`fixed` decay at η_t = 0): no ratio to it, no box
            return None
        if not radius > 0:
            raise ValueError(f"radius must be >= 0, got {radius}")
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


# --- Per-norm geometry (SPEC §3, "Per norm") ----------------------------------------------------
# A direction steepest for a norm N, with decoupled decay, is Frank-Wolfe on the ball
# {N(x) <= r}. Each tensor has its own norm and radius; the constraint set is their product,
# so the Frank-Wolfe gap adds up over tensors and the overall ratio is the largest one.

NORMS = ("linf", "spectral", "l2")
BALL_METRIC_NAMES = ("ball_ratio", "ball_violation", "ball_fw_gap", "ball_fw_gap_rel",
                     "ball_boundary_frac")
# Per-tensor statistics of one ball, in this order.
_BALL_STATS = ("norm_x", "dual_g", "gx", "n_boundary", "n_units")


def as_matrix(t: Tensor) -> Tensor:
    """The matrix whose singular values define a tensor's spectral norm: (rows, rest)."""
    if t.ndim < 2:
        raise ValueError(f"the spectral norm needs a tensor with >= 2 dims, got shape "
                         f"{tuple(t.shape)}")
    return t.reshape(t.shape[0], -1)


def norm_of(x: Tensor, norm: str) -> float:
    """N(x) for N in NORMS (spectral: the largest singular value of `as_matrix(x)`)."""
    return _norm_values([x.detach().to(torch.float64)], norm)[0]


def geometry_metrics(named_params: Mapping[str, Tensor], named_grads: Mapping[str, Tensor | None],
                     norms: Mapping[str, str], radii: Mapping[str, float] | float,
                     tau: float = 0.01) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """SPEC §3 per norm: each tensor in the ball {norms[name](x) <= radii[name]}.

    Returns (overall, per_tensor) with the keys of BALL_METRIC_NAMES:
      ball_ratio          N(x) / r                  (overall: the max over tensors)
      ball_violation      max(0, ball_ratio - 1)
      ball_fw_gap         <g, x> + r N*(g)          (overall: the sum; N* the dual norm:
                                                     l1 for linf, nuclear for spectral, l2)
      ball_fw_gap_rel     fw_gap / (r N*(g))        (overall: sum of gaps / sum of r N*(g))
      ball_boundary_frac  share of coordinates (linf), singular values (spectral) or tensors
                          (l2) at >= (1 - tau) r
    A missing gradient counts as zero. Singular values are computed in float64 (`svdvals`,
    batched by shape off the CPU).
    """
    params = dict(named_params)
    names = list(params)
    unknown = sorted({norms[n] for n in names} - set(NORMS))
    if unknown:
        raise ValueError(f"unknown norm(s) {', '.join(unknown)}; use one of: {', '.join(NORMS)}")
    r = {n: float(radii if isinstance(radii, (int, float)) else radii[n]) for n in names}
    if any(not v > 0 for v in r.values()):
        raise ValueError(f"radii must be > 0, got {r}")
    grads = dict(named_grads)
    rows: dict[str, list[float]] = {}
    for norm in NORMS:
        chosen = [n for n in names if norms[n] == norm]
        if chosen:
            table = _ball_stats([params[n] for n in chosen], [grads.get(n) for n in chosen],
                                norm, [r[n] for n in chosen], tau)
            rows.update(zip(chosen, table))
    per_tensor = {n: _ball_metrics([rows[n]], [r[n]]) for n in names}
    overall = _ball_metrics([rows[n] for n in names], [r[n] for n in names])
    return overall, per_tensor


def geometry_ratios(named_params: Mapping[str, Tensor],
                    radii: Mapping[str, Mapping[str, float] | float]) -> dict[str, float]:
    """Every geometry's ratio at once: {f"{norm}_ratio": max_tensor N(x) / r_N(tensor)} for each
    norm in `radii` (a radius, or name -> radius). The spectral ratio covers tensors with >= 2
    dims only (NaN when there are none); a name missing from a mapping is left out."""
    params = dict(named_params)
    out = {}
    for norm, given in radii.items():
        names = [n for n in params if (norm != "spectral" or params[n].ndim >= 2)
                 and (isinstance(given, (int, float)) or n in given)]
        if not names:
            out[f"{norm}_ratio"] = math.nan
            continue
        values = _norm_values([params[n].detach().to(torch.float64) for n in names], norm)
        out[f"{norm}_ratio"] = max(
            v / float(given if isinstance(given, (int, float)) else given[n])
            for n, v in zip(names, values))
    return out


def gap_terms(named_params: Mapping[str, Tensor], named_grads: Mapping[str, Tensor | None],
              norms: Mapping[str, str] | str) -> dict[str, tuple[float, float]]:
    """Per tensor, the two radius-free terms of its Frank-Wolfe gap: (<g, x>, N*(g)), N* the
    dual of `norms[name]` (or of `norms` for every tensor): fw_gap at radius r is
    inner + r * dual. The same sums `geometry_metrics` forms; a missing gradient counts as 0."""
    params = dict(named_params)
    names = list(params)
    norm_of_name = dict.fromkeys(names, norms) if isinstance(norms, str) else dict(norms)
    unknown = sorted({norm_of_name[n] for n in names} - set(NORMS))
    if unknown:
        raise ValueError(f"unknown norm(s) {', '.join(unknown)}; use one of: {', '.join(NORMS)}")
    grads = dict(named_grads)
    out: dict[str, tuple[float, float]] = {}
    for norm in NORMS:
        chosen = [n for n in names if norm_of_name[n] == norm]
        if chosen:  # the radius only counts boundary units here: any positive value will do
            table = _ball_stats([params[n] for n in chosen], [grads.get(n) for n in chosen],
                                norm, [1.0] * len(chosen), 0.0)
            out.update((n, (row[2], row[1])) for n, row in zip(chosen, table))
    return {n: out[n] for n in names}


def spectral_ratio(named_params: Mapping[str, Tensor], radii: Mapping[str, float] | float
                   ) -> float:
    """max over matrices of sigma_max(W) / r(W) (for Muon r = s / lambda: lambda sigma_max / s)."""
    return geometry_ratios(named_params, {"spectral": radii})["spectral_ratio"]


def ball_ratio(named_params: Mapping[str, Tensor], norms: Mapping[str, str],
               radii: Mapping[str, float] | float) -> float:
    """max over tensors of N(x) / r in each tensor's own norm (norms may differ per tensor)."""
    params = dict(named_params)
    return max((norm_of(p, norms[n]) / float(radii if isinstance(radii, (int, float))
                                              else radii[n]) for n, p in params.items()),
               default=math.nan)


def _norm_values(xs: Sequence[Tensor], norm: str) -> list[float]:
    if norm == "linf":
        return [float(x.abs().max()) if x.numel() else 0.0 for x in xs]
    if norm == "l2":
        return [float(x.norm()) for x in xs]
    return [float(s[0]) if s.numel() else 0.0 for s in _singular_values(xs)]


def _singular_values(xs: Sequence[Tensor]) -> list[Tensor]:
    """Descending singular values of each `as_matrix(x)`: batched by shape on accelerators (one
    call each); one call per matrix on the CPU, where torch's batched svdvals is far slower
    (4 x (128, 384) float64: 1.15 s batched vs 4 x 16 ms, measured on this project's CPU)."""
    mats = [as_matrix(x.to(torch.float64)) for x in xs]
    if all(m.device.type == "cpu" for m in mats):
        return [torch.linalg.svdvals(m) for m in mats]
    out: list[Tensor | None] = [None] * len(mats)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for i, m in enumerate(mats):
        by_shape.setdefault(tuple(m.shape), []).append(i)
    for idx in by_shape.values():
        values = torch.linalg.svdvals(torch.stack([mats[i] for i in idx])).cpu()
        for i, s in zip(idx, values):
            out[i] = s
    return out  # type: ignore[return-value]


def _ball_stats(params: Sequence[Tensor], grads: Sequence[Tensor | None], norm: str,
                radii: Sequence[float], tau: float) -> list[list[float]]:
    xs = [p.detach().to(torch.float64) for p in params]
    gs = [torch.zeros_like(x) if g is None else g.detach().to(x) for x, g in zip(xs, grads)]
    gx = [float((g * x).sum()) for x, g in zip(xs, gs)]
    rows = []
    if norm == "spectral":
        for inner, r, sx, sg in zip(gx, radii, _singular_values(xs), _singular_values(gs)):
            rows.append([float(sx[0]) if sx.numel() else 0.0, float(sg.sum()), inner,
                         float((sx >= (1 - tau) * r).sum()), float(sx.numel())])
        return rows
    for x, g, inner, r in zip(xs, gs, gx, radii):
        if norm == "linf":
            ax = x.abs()
            rows.append([float(ax.max()) if x.numel() else 0.0, float(g.abs().sum()), inner,
                         float((ax >= (1 - tau) * r).sum()), float(x.numel())])
        else:  # l2: the tensor is one point of its ball
            nx = float(x.norm())
            rows.append([nx, float(g.norm()), inner, float(nx >= (1 - tau) * r), 1.0])
    return rows


def _ball_metrics(rows: Sequence[Sequence[float]], radii: Sequence[float]) -> dict[str, float]:
    if not rows:
        return dict.fromkeys(BALL_METRIC_NAMES, math.nan)
    ratio = max(row[0] / r for row, r in zip(rows, radii))
    fw_gap = sum(row[2] + r * row[1] for row, r in zip(rows, radii))
    scale = sum(r * row[1] for row, r in zip(rows, radii))
    units = sum(row[4] for row in rows)
    return {
        "ball_ratio": ratio,
        "ball_violation": max(0.0, ratio - 1.0),
        "ball_fw_gap": fw_gap,
        "ball_fw_gap_rel": fw_gap / scale if scale > 0 else 0.0,
        "ball_boundary_frac": sum(row[3] for row in rows) / units if units > 0 else math.nan,
    }
