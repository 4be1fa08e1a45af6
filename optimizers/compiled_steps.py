"""One-pass steps for CUDA (and, on request, CPU): SignGD, Signum, Lion and heavy-ball SGD as
`torch.compile`d functions over a param group's tensor lists.

Why this mechanism: inductor fuses each tensor's whole update (coupling, momentum, sign,
shrink, step) into one kernel that reads and writes each tensor once, on CUDA (Triton) and on
CPU (C++), so the same code that steps a GPU is tested on this project's CPU machines against
the eager reference. The numbers that change every step (lr, shrink, coupling, betas) enter as
0-dim fp32 tensors: dynamo guards on tensor shapes and dtypes, not values, so a schedule or a
λ grid never recompiles, and refilling them (`fill_`) is a kernel launch, not a host sync.

Arithmetic is in fp32 for fp32 and bf16 parameters (bf16 is read, updated in fp32, rounded
once on the store) and in fp64 for fp64 ones, with the scalars in the same dtype; momentum
state is fp32 (`STATE_DTYPE`) where the parameters are not fp64. The formulas are the
decay stage's (`decay.DecayTerms`, taken as numbers, never re-derived):

    g' = g + coupled * x;   x <- shrink * x - lr * d(g')

with torch's sign (sign(0) = sign(NaN) = 0). Against the eager path the result agrees to
rounding (inductor may contract a multiply-add into an FMA, and momentum is b m + (1 - b) g
where the eager path uses lerp), so a coordinate at a sign tie can step the other way.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import cache

import torch
from torch import Tensor

STATE_DTYPE = torch.float32
PARAM_DTYPES = (torch.float32, torch.bfloat16, torch.float64)


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The arithmetic's dtype for parameters of `dtype`: fp32 for bf16, else their own."""
    return torch.float32 if dtype == torch.bfloat16 else dtype


def state_dtype(params: list[Tensor]) -> torch.dtype:
    """Momentum state of the compiled step: fp32, or fp64 for fp64 parameters."""
    return torch.float64 if params[0].dtype == torch.float64 else STATE_DTYPE


def _up(t: Tensor) -> Tensor:
    return t.to(compute_dtype(t.dtype))


def _coupled(g: Tensor, x: Tensor, coupled: Tensor) -> Tensor:
    # coupled == 0 adds nothing; torch.where keeps an infinite x from turning 0 * inf into NaN.
    return torch.where(coupled != 0, g + coupled * x, g)


def _sign_step(params: list[Tensor], grads: list[Tensor], lr: Tensor, shrink: Tensor,
               coupled: Tensor) -> None:
    for p, g in zip(params, grads):
        x = _up(p)
        p.copy_(x * shrink - lr * torch.sign(_coupled(_up(g), x, coupled)))


def _signum_step(params: list[Tensor], grads: list[Tensor], bufs: list[Tensor], lr: Tensor,
                 shrink: Tensor, coupled: Tensor, beta: Tensor) -> None:
    for p, g, m in zip(params, grads, bufs):
        x = _up(p)
        new_m = beta * m + (1 - beta) * _coupled(_up(g), x, coupled)
        m.copy_(new_m)
        p.copy_(x * shrink - lr * torch.sign(new_m))


def _lion_step(params: list[Tensor], grads: list[Tensor], bufs: list[Tensor], lr: Tensor,
               shrink: Tensor, coupled: Tensor, beta1: Tensor, beta2: Tensor) -> None:
    for p, g, m in zip(params, grads, bufs):
        x = _up(p)
        gc = _coupled(_up(g), x, coupled)
        p.copy_(x * shrink - lr * torch.sign(beta1 * m + (1 - beta1) * gc))
        m.copy_(beta2 * m + (1 - beta2) * gc)


def _heavy_ball_step(params: list[Tensor], grads: list[Tensor], bufs: list[Tensor], lr: Tensor,
                     shrink: Tensor, coupled: Tensor, momentum: Tensor,
                     nesterov: bool) -> None:
    """torch's convention: b <- mu b + g'; d = b, or g' + mu b (Nesterov)."""
    for p, g, b in zip(params, grads, bufs):
        x = _up(p)
        gc = _coupled(_up(g), x, coupled)
        new_b = momentum * b + gc
        b.copy_(new_b)
        d = gc + momentum * new_b if nesterov else new_b
        p.copy_(x * shrink - lr * d)


EAGER: dict[str, Callable[..., None]] = {
    "sign": _sign_step, "signum": _signum_step, "lion": _lion_step, "heavy_ball": _heavy_ball_step,
}


@cache
def compiled(name: str) -> Callable[..., None]:
    """The compiled step `name` (compiled lazily on first call; one compile per tensor-list
    structure, never per hyper-parameter value)."""
    return torch.compile(EAGER[name], fullgraph=True)


def applies(*tensor_lists: list[Tensor]) -> bool:
    """Whether these tensors can take the compiled step: dense, one device, fp32/bf16/fp64
    parameters (the first list)."""
    first = tensor_lists[0][0]
    return first.dtype in PARAM_DTYPES and all(
        t.device == first.device and t.layout == torch.strided and t.is_floating_point()
        and not t.is_sparse for ts in tensor_lists for t in ts)


class DeviceScalars:
    """0-dim tensors on one device, refilled in place each step: the compiled step sees the
    same tensors (no recompile) and filling them needs no host-device sync."""

    def __init__(self) -> None:
        self._slots: dict[tuple[torch.device, torch.dtype, str], Tensor] = {}

    def __call__(self, device: torch.device, dtype: torch.dtype,
                 **values: float) -> dict[str, Tensor]:
        out = {}
        for name, value in values.items():
            slot = self._slots.get((device, dtype, name))
            if slot is None:
                slot = self._slots[(device, dtype, name)] = torch.zeros((), dtype=dtype,
                                                                        device=device)
            out[name] = slot.fill_(value)
        return out


def run(name: str, *tensor_lists: list[Tensor], **scalars: Tensor | bool) -> bool:
    """Step with the compiled function `name`; False (with a warning) where compiling fails,
    e.g. without a C++ compiler on CPU: the eager path then runs."""
    try:
        compiled(name)(*tensor_lists, **scalars)
    except torch._dynamo.exc.BackendCompilerFailed as exc:
        # Raised before any tensor is written, so the eager step can run instead.
        warnings.warn(f"impl='compiled' could not compile ({type(exc).__name__}: "
                      f"{str(exc).splitlines()[0][:200]}); running impl='foreach' instead",
                      RuntimeWarning, stacklevel=3)
        return False
    return True
