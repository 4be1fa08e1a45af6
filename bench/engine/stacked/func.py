"""The "func" way of stacking: `task.loss` on each trial's slices of the stacked tensors,
through `torch.func.functional_call`, either vectorized (`vmap`) or one member after another
(`loop`).

- vmap: one batched op per model op for all T trials (what fills a GPU). Member i's loss and
  gradient equal its lone run's to rounding (batched matmuls may sum in another order).
  `nn.Linear` layers run as one bmm per pass with gradients in the parameters' layout
  (bench/engine/stacked/linear.py).
- loop: member i runs ITS OWN module (own buffers), exactly the ops of its lone run, so its
  loss and gradient are bitwise the lone ones. For a training step (`loop_backward`) that is
  the lone step itself, `task.loss(member, batch_i).backward()` on the member's own parameters
  (which alias its slices), then one stack of the members' gradients per stacked tensor; for
  `losses` (a graph to the stacked leaves) the member's parameters are swapped for its slices
  by `functional_call`. Saves the per-trial optimizer and loop overhead, not the model's.

Which one runs on a device is measured, not assumed (bench/engine/stacked/choice.py).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from bench.engine.stacked.linear import batchable
from tasks.base import Task

STRATEGIES = ("vmap", "loop")


def alias_names(model: nn.Module) -> dict[str, str]:
    """Every parameter name, tied duplicates included -> the name named_parameters() lists."""
    canonical: dict[int, str] = {}
    for name, p in model.named_parameters():
        canonical.setdefault(id(p), name)
    return {name: canonical[id(p)]
            for name, p in model.named_parameters(remove_duplicate=False)}


class Bound:
    """What `task.loss` calls as the model: `module` run with `tensors` swapped in (a dict of
    parameters, or (parameters, buffers))."""

    def __init__(self, module: nn.Module, tensors: Any) -> None:
        self.module, self.tensors = module, tensors

    @property
    def training(self) -> bool:
        return self.module.training

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return torch.func.functional_call(self.module, self.tensors, args, kwargs)


def vmap_losses(task: Task, members: list[nn.Module], params: dict[str, Tensor]
                ) -> tuple[Callable[[Any], Tensor], dict[str, Tensor]]:
    """(losses, stacked buffers): vmap over a shape-only (meta) copy of member 0."""
    base = batchable(copy.deepcopy(members[0]).to("meta"))
    own = [dict(m.named_buffers()) for m in members]
    buffers = {name: torch.stack([o[name] for o in own]) for name in own[0]}
    aliases = alias_names(members[0])

    def one(p: dict[str, Tensor], b: dict[str, Tensor], batch: Any) -> Tensor:
        # Tied names get the same tensor, so e.g. GPT-2's lm_head is its token embedding.
        return task.loss(Bound(base, ({a: p[c] for a, c in aliases.items()}, b)), batch)

    batched = torch.func.vmap(one, randomness="error")
    return (lambda batch: batched(params, buffers, batch)), buffers


def loop_losses(task: Task, members: list[nn.Module], params: dict[str, Tensor]
                ) -> Callable[[Any], Tensor]:
    """Member after member, each on its own module and its own slice of the batch."""
    aliases = alias_names(members[0])

    def losses(batch: Any) -> Tensor:
        slices = {name: t.unbind(0) for name, t in params.items()}
        out = []
        for i, member in enumerate(members):
            p = {a: slices[c][i] for a, c in aliases.items()}
            out.append(task.loss(Bound(member, p), batch_at(batch, i)))
        return torch.stack(out)

    return losses


def loop_backward(task: Task, members: list[nn.Module], params: dict[str, Tensor]
                  ) -> Callable[[Any], Tensor]:
    """A training step's (T,) losses (detached), each stacked parameter's `.grad` set to the
    members' gradients: member i's is `task.loss(member_i, batch_i).backward()`, its lone step
    (no functional_call: the member's parameters are its slices already).

    Each member's gradients are copied into its rows of the stacked ones right after its
    backward, while they are still in cache, and the stacked gradients are the same buffers
    every step: a fresh [T, ...] tensor a step is fresh pages from the OS once it is large,
    and a stack of T cold gradients at the end a pass from memory (measured on this 2-core
    CPU, 16-member MNIST MLP, forward + backward: 35-36 ms a step with one stack at the end,
    29-31 copying member by member, against 27-30 for the 16 lone steps)."""
    own = [list(m.named_parameters()) for m in members]
    buffers: dict[str, Tensor] = {}

    def backward(batch: Any) -> Tensor:
        losses = []
        reached: dict[str, list[bool]] = {name: [] for name in params}
        for i, member in enumerate(members):
            for _, p in own[i]:
                p.grad = None
            loss = task.loss(member, batch_at(batch, i))
            loss.backward()
            losses.append(loss.detach())
            for name, p in own[i]:
                reached[name].append(p.grad is not None)
                if p.grad is None:
                    continue
                if name not in buffers:
                    buffers[name] = torch.zeros_like(params[name],
                                                     memory_format=torch.contiguous_format)
                buffers[name][i].copy_(p.grad)
                p.grad = None
        for name, stacked in params.items():
            if not any(reached[name]):
                stacked.grad = None
                continue
            # A member whose loss does not reach the tensor gets zeros, as autograd's unbind
            # gives it in `losses(batch).sum().backward()`.
            for i, hit in enumerate(reached[name]):
                if not hit:
                    buffers[name][i].zero_()
            stacked.grad = buffers[name]
        return torch.stack(losses)

    return backward


def batch_at(batch: Any, i: int) -> Any:
    """Trial i's batch out of a stacked one (views, no copies)."""
    if isinstance(batch, Tensor):
        return batch[i]
    if isinstance(batch, Mapping):
        return {k: batch_at(v, i) for k, v in batch.items()}
    if isinstance(batch, (tuple, list)):
        parts = [batch_at(v, i) for v in batch]
        return type(batch)(*parts) if hasattr(batch, "_fields") else type(batch)(parts)
    return batch
