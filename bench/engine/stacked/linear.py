"""`nn.Linear` under `vmap` as one batched matmul per pass, with each gradient laid out as its
parameter is.

vmap's own rule for `F.linear` with a batched weight (T, out, in) computes the weight's gradient
as (T, in, out) and hands autograd its transpose, so every step ends in a transposing copy of
the whole stacked weight into `.grad` (profiled on this 2-core CPU, a 16-member MNIST-MLP step
under load: that copy of the first layer's gradient took 59 ms, the bmm it follows 45). Here
the weight's gradient is `bmm(gradᵀ, x)`, already (T, out, in): no copy. Forward
`baddbmm(b, x, Wᵀ)`, input gradient `bmm(grad, W)`, bias gradient a sum: the ops of a lone
`F.linear`, batched, so a member equals its lone run to float rounding (the batched kernels
may sum in another order).

`batchable(module)`: a copy-free swap of every `nn.Linear` in a (meta) module for one whose
forward goes through this rule; outside vmap it is `F.linear` unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class _StackedLinear(torch.autograd.Function):
    """x (T, N, in), w (T, out, in), b (T, out) or None -> (T, N, out)."""

    @staticmethod
    def forward(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
        if b is None:
            return torch.bmm(x, w.mT)
        return torch.baddbmm(b.unsqueeze(1), x, w.mT)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        x, w, b = inputs
        ctx.save_for_backward(x, w)
        ctx.has_bias = b is not None

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        return (torch.bmm(grad, w) if need_x else None,
                torch.bmm(grad.mT, x) if need_w else None,
                grad.sum(1) if ctx.has_bias and need_b else None)


class _Linear(torch.autograd.Function):
    """`F.linear(x, w, b)` for one member; under vmap, `_StackedLinear` on the whole batch."""

    @staticmethod
    def forward(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
        return F.linear(x, w, b)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        ctx.save_for_backward(inputs[0], inputs[1])
        ctx.has_bias = inputs[2] is not None

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # outside vmap only
        x, w = ctx.saved_tensors
        flat_grad, flat_x = grad.reshape(-1, grad.shape[-1]), x.reshape(-1, x.shape[-1])
        return (grad @ w, flat_grad.mT @ flat_x,
                flat_grad.sum(0) if ctx.has_bias else None)

    @staticmethod
    def vmap(info: Any, in_dims: tuple[int | None, ...], x: Tensor, w: Tensor,
             b: Tensor | None) -> tuple[Tensor, int]:
        x, w = _front(x, in_dims[0], info.batch_size), _front(w, in_dims[1], info.batch_size)
        if b is not None:
            b = _front(b, in_dims[2], info.batch_size)
        # (T, ..., in) -> (T, N, in) outside the Function: a view made inside one may not be
        # modified in place (the next layer's ReLU(inplace=True) does).
        out = _StackedLinear.apply(x.reshape(x.shape[0], -1, x.shape[-1]), w, b)
        return out.view(*x.shape[:-1], w.shape[1]), 0


def _front(t: Tensor, dim: int | None, size: int) -> Tensor:
    return t.expand(size, *t.shape) if dim is None else t.movedim(dim, 0)


class BatchableLinear(nn.Linear):
    """An `nn.Linear` whose forward vmap runs as `_StackedLinear`."""

    def forward(self, x: Tensor) -> Tensor:
        return _Linear.apply(x, self.weight, self.bias)


def batchable(module: nn.Module) -> nn.Module:
    """`module` with each plain `nn.Linear` (subclasses are left alone) turned into a
    BatchableLinear in place: same parameters, buffers and hooks, no copy."""
    for child in module.modules():
        if type(child) is nn.Linear:
            child.__class__ = BatchableLinear
    return module
