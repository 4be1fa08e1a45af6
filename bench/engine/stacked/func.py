"""The "func" way of stacking: `task.loss` on each trial's slices of the stacked tensors,
through `torch.func.functional_call`, either vectorized (`vmap`) or one member after another
(`loop`).

- vmap: one batched op per model op for all T trials (what fills a GPU). Member i's loss and
  gradient equal its lone run's to rounding (batched matmuls may sum in another order).
  On CPU the batched kernels and vmap's layouts cost more than they save on compute-bound
  models (docs/results/stacked.md, "Model side").
- loop: member i runs ITS OWN module (own buffers) with its parameters swapped for its slices,
  exactly the ops of its lone run, so its loss and gradient are bitwise the lone ones; the
  gradients reach the stacked leaves through one `unbind` (one stack in backward). Saves the
  per-trial optimizer and loop overhead, not the model's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from tasks.base import Task

STRATEGIES = ("vmap", "loop")


def default_strategy(device: torch.device | str) -> str:
    """vmap where it pays (CUDA); elsewhere loop, which measured faster on CPU here."""
    return "vmap" if torch.device(device).type == "cuda" else "loop"


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
    base = copy.deepcopy(members[0]).to("meta")
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
