"""One-pass CPU kernels for the sign directions (SignGD, Signum, Lion), compiled by numba.

Why: the eager step (sign into a temporary, shrink x, add the temporary) walks memory three
times; these loops read and write each tensor once, which is what a fused AdamW does. The
decay style enters as two numbers of the decay stage (`decay.DecayTerms`), as everywhere:

    g' = g + coupled_wd * x                  coupled decay (0 otherwise)
    x <- shrink * x - lr * sign(direction)   shrink < 1 for the styles that shrink x
                                             (cautious decay, masked, runs the eager path)

Arithmetic is element-wise IEEE in the tensor's dtype, without fused multiply-add, in the
published order (shrink, then step), with torch's sign: sign(0) = sign(NaN) = 0. SignGD's step
is bit-identical to the eager one; momentum is kept as b m + (1 - b) g (the published form),
where the eager path uses torch's lerp, so the two agree to rounding there.
Only plain, contiguous CPU float32/float64 tensors qualify (`fusable`); the optimizers run
their eager torch path for anything else (CUDA, bf16, strided views).
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from torch import Tensor

DTYPES = (torch.float32, torch.float64)


@numba.njit(nogil=True, cache=True, inline="always")
def _step(neg_lr, u):
    """-lr * sign(u) as torch computes it: sign(NaN) = sign(-0) = +0, times -lr gives -0."""
    zero = neg_lr * 0
    return neg_lr if u > 0 else (-neg_lr if u < 0 else zero)


@numba.njit(nogil=True, cache=True, inline="always")
def _coupled(g, x, coupled_wd):
    # Skipped at 0 like `decay.couple`: 0 * inf would turn an infinite x into NaN.
    return g + coupled_wd * x if coupled_wd != 0 else g


@numba.njit(nogil=True, cache=True)
def _sign_step(x, g, shrink, neg_lr, coupled_wd):
    for i in range(x.shape[0]):
        xi = x[i]
        x[i] = xi * shrink + _step(neg_lr, _coupled(g[i], xi, coupled_wd))


@numba.njit(nogil=True, cache=True)
def _signum_step(x, g, m, shrink, neg_lr, coupled_wd, beta, one_minus_beta):
    for i in range(x.shape[0]):
        xi = x[i]
        mi = beta * m[i] + one_minus_beta * _coupled(g[i], xi, coupled_wd)
        m[i] = mi
        x[i] = xi * shrink + _step(neg_lr, mi)


@numba.njit(nogil=True, cache=True)
def _lion_step(x, g, m, shrink, neg_lr, coupled_wd, beta1, one_minus_beta1, beta2,
               one_minus_beta2):
    for i in range(x.shape[0]):
        xi = x[i]
        gi = _coupled(g[i], xi, coupled_wd)
        mi = m[i]
        x[i] = xi * shrink + _step(neg_lr, beta1 * mi + one_minus_beta1 * gi)
        m[i] = beta2 * mi + one_minus_beta2 * gi


def fusable(*tensor_lists: list[Tensor]) -> bool:
    """Whether every tensor can go through the kernels: plain, dense, contiguous, CPU, one
    float32/float64 dtype throughout."""
    dtype = tensor_lists[0][0].dtype
    return dtype in DTYPES and all(
        t.device.type == "cpu" and t.dtype == dtype and t.is_contiguous()
        and type(t) in (Tensor, torch.nn.Parameter) and not t.is_conj() and not t.is_neg()
        for ts in tensor_lists for t in ts)


def _flat(t: Tensor) -> np.ndarray:
    return t.detach().view(-1).numpy()


def _scalars(dtype: torch.dtype, *values: float) -> list[np.floating]:
    # Scalars in the tensor's dtype, as torch's CPU kernels use them: no float64 detour.
    kind = np.float32 if dtype == torch.float32 else np.float64
    return [kind(v) for v in values]


def sign_update(params: list[Tensor], grads: list[Tensor], bufs: list[Tensor] | None,
                beta: float, lr: float, shrink: float, coupled_wd: float) -> None:
    """SignGD (bufs None) or Signum: m <- beta m + (1 - beta) g', x <- shrink x - lr sign(m)."""
    shrink_, neg_lr, wd = _scalars(params[0].dtype, shrink, -lr, coupled_wd)
    if bufs is None:
        for p, g in zip(params, grads):
            _sign_step(_flat(p), _flat(g), shrink_, neg_lr, wd)
    else:
        b, c = _scalars(params[0].dtype, beta, 1.0 - beta)
        for p, g, m in zip(params, grads, bufs):
            _signum_step(_flat(p), _flat(g), _flat(m), shrink_, neg_lr, wd, b, c)
        torch.autograd.graph.increment_version(bufs)
    torch.autograd.graph.increment_version(params)


def lion_update(params: list[Tensor], grads: list[Tensor], bufs: list[Tensor], beta1: float,
                beta2: float, lr: float, shrink: float, coupled_wd: float) -> None:
    """Lion: x <- shrink x - lr sign(b1 m + (1 - b1) g'), then m <- b2 m + (1 - b2) g'."""
    scalars = _scalars(params[0].dtype, shrink, -lr, coupled_wd, beta1, 1.0 - beta1, beta2,
                       1.0 - beta2)
    for p, g, m in zip(params, grads, bufs):
        _lion_step(_flat(p), _flat(g), _flat(m), *scalars)
    torch.autograd.graph.increment_version(params)
    torch.autograd.graph.increment_version(bufs)
