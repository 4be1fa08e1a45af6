"""Stacked models: T trials of one task as one set of (T, *shape) parameter tensors.

Each parameter of the task's model becomes ONE leaf tensor with the trial dimension first, so
`losses(batch).sum().backward()` puts every trial's own gradient into its slice of `.grad`
(the T losses share no parameters). Each trial also keeps a real `nn.Module` ("member") whose
parameters alias its slices (`nn.Parameter(stacked.detach()[i])` shares storage): an in-place
update of `params[name][i]` is the member's update, and evaluation, probe gradients and
`task.extra_metrics` run on members unchanged. Member i starts as `task.build_model(seeds[i])`.

Two ways a task opts in (`Task.stacking`):
- "native": `task.stacked_losses(params, buffers, batch)`, one batched expression (quadratics);
  the buffers are the one set all members share (checked equal at build).
- "func": `task.loss` with the model called through `functional_call` on each trial's slices
  (MLPs, the GPT), vectorized by `vmap` or member after member (`loop`):
  bench/engine/stacked/func.py; which of the two is timed on the device and model at hand
  (bench/engine/stacked/choice.py).
Refused with `NotStackable` (and the reason): BatchNorm (batch statistics and running averages
are per-call state), dropout > 0 (a stacked member cannot replay a lone run's random stream, so
it would not equal its lone run; vmap runs with randomness="error" to catch any other draw),
differing members, or a model whose trial forward/backward fails or disagrees with the lone
model's loss at build time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from bench.engine.stacked.func import STRATEGIES, loop_backward, loop_losses, vmap_losses
from tasks.base import Task

KINDS = ("native", "func")  # Task.stacking values that stack
CHECK_EXAMPLES = 2  # examples per member in the build-time trial forward (cheap, any model)
CHECK_RTOL = 1e-4  # stacked vs lone loss of member 0 at build: catches wrong code, not rounding


class NotStackable(Exception):
    """These trials cannot run stacked; str(exc) is the reason (the engine says it once and
    runs them one by one)."""


@dataclass
class StackedModel:
    """T members of one task; `params` and `members` are two views of the same numbers."""

    params: dict[str, Tensor]  # name (as in member.named_parameters()) -> leaf (T, *shape)
    members: list[nn.Module]  # member i's parameters alias params[name][i]
    buffers: dict[str, Tensor]  # native: shared by all; vmap: stacked (T, *shape); loop: none
    mode: str  # "native", "vmap" or "loop" (how losses() runs)
    loss_fn: Callable[[Any], Tensor] = field(repr=False)
    # native tasks with `stacked_gradients`: (losses, grads) in closed form
    grad_fn: Callable[[Any], tuple[Tensor, dict[str, Tensor]]] | None = field(
        default=None, repr=False)
    # loop: each member's own backward, the stacked .grad set from theirs (func.loop_backward)
    step_fn: Callable[[Any], Tensor] | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return len(self.members)

    def losses(self, batch: Any) -> Tensor:
        """(T,) training losses; `batch` = stack_batches(the T trials' own batches)."""
        return self.loss_fn(batch)

    def backward(self, batch: Any) -> Tensor:
        """(T,) training losses, with each stacked parameter's `.grad` set to the gradient of
        their sum (member i's own gradient in slice i): closed form where the task has it,
        member by member in loop mode, else autograd."""
        if self.step_fn is not None:
            return self.step_fn(batch)
        if self.grad_fn is None:
            losses = self.loss_fn(batch)
            losses.sum().backward()
            return losses
        with torch.no_grad():
            losses, grads = self.grad_fn(batch)
        for name, grad in grads.items():
            self.params[name].grad = grad
        return losses


def stack_models(task: Task, seeds: Sequence[int], device: torch.device | str,
                 dtype: torch.dtype | None = None, strategy: str | None = None,
                 cache_dir: str | None = None) -> StackedModel:
    """Members `task.build_model(seed)` (moved to `device`, floating tensors to `dtype` if
    given) stacked into one StackedModel. `strategy`: "native" (the task's stacked_losses),
    "vmap" or "loop" (bench/engine/stacked/func.py; any stackable task); None: native where
    the task has it, else the faster of vmap and loop on one training batch of each member
    (bench/engine/stacked/choice.py; the outcome is kept in `cache_dir`, default the task's
    cache directory). Raises NotStackable with the reason."""
    kind = getattr(task, "stacking", "none")
    if kind not in KINDS:
        raise NotStackable(f"task {task.name!r} does not support stacked trials "
                           f"(stacking={kind!r}); its trials run one by one")
    if not seeds:
        raise ValueError("stack_models needs at least one seed")
    if strategy is not None and strategy not in ("native", *STRATEGIES):
        raise ValueError(f"unknown stacking strategy {strategy!r}; use one of: native, "
                         f"{', '.join(STRATEGIES)}")
    if strategy == "native" and kind != "native":
        raise ValueError(f"task {task.name!r} has no native stacked losses; use strategy "
                         f"{' or '.join(STRATEGIES)}")
    mode = strategy or ("native" if kind == "native" else None)
    obstacle = task.stacking_obstacle()
    if obstacle:
        raise NotStackable(f"{task.name}: {obstacle}")
    members = [task.build_model(int(seed)).to(device=device, dtype=dtype) for seed in seeds]
    for member in members:
        member.train()
    _check_members(task, members, shared_buffers=mode == "native")
    own = [dict(m.named_parameters()) for m in members]
    params = {name: torch.stack([o[name].detach() for o in own]).requires_grad_(p.requires_grad)
              for name, p in own[0].items()}
    del own  # the members' own tensors go once they alias the stacked ones
    for i, member in enumerate(members):
        _alias_parameters(member, params, i)
    buffers: dict[str, Tensor] = {}
    if mode is None:
        mode = _timed_choice(task, members, params, device, dtype, cache_dir)
    if mode == "native":
        buffers = dict(members[0].named_buffers())
        loss_fn = _native_losses(task, params, buffers)
    elif mode == "vmap":
        loss_fn, buffers = vmap_losses(task, members, params)
    else:
        loss_fn = loop_losses(task, members, params)
    grad_fn = step_fn = None
    if mode == "native" and type(task).stacked_gradients is not Task.stacked_gradients:
        grad_fn = _native_gradients(task, params, buffers)
    if mode == "loop":
        step_fn = loop_backward(task, members, params)
    stacked = StackedModel(params, members, buffers, mode, loss_fn, grad_fn, step_fn)
    _trial_forward(task, stacked, device, dtype)
    return stacked


def stack_batches(batches: Sequence[Any]) -> Any:
    """T collated batches (tensors, or dicts / tuples / lists of them) -> one batch whose
    tensors have a leading T dimension. None entries stay None."""
    if not batches:
        raise ValueError("stack_batches needs at least one batch")
    first = batches[0]
    if isinstance(first, Tensor):
        return torch.stack(list(batches))
    if first is None:
        if any(b is not None for b in batches):
            raise ValueError("stack_batches: some batches have None where others have data")
        return None
    if isinstance(first, Mapping):
        keys = list(first)
        if any(list(b) != keys for b in batches):
            raise ValueError("stack_batches: the batches' dicts have different keys")
        return {k: stack_batches([b[k] for b in batches]) for k in keys}
    if isinstance(first, (tuple, list)):
        if any(len(b) != len(first) for b in batches):
            raise ValueError("stack_batches: the batches' tuples have different lengths")
        parts = [stack_batches([b[j] for b in batches]) for j in range(len(first))]
        return type(first)(*parts) if hasattr(first, "_fields") else type(first)(parts)
    raise TypeError(f"stack_batches: cannot stack a {type(first).__name__}; batches must be "
                    "tensors or dicts/tuples/lists of tensors")


# --- building -----------------------------------------------------------------------------
def _check_members(task: Task, members: list[nn.Module], shared_buffers: bool) -> None:
    """Refuse what a stacked member could not do exactly as alone, with the reason."""
    for name, module in members[0].named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            raise NotStackable(
                f"{task.name}: the model has BatchNorm ({name or type(module).__name__}): "
                "batch statistics and running averages are per-call state that torch.func "
                "does not stack; the trials run one by one (task.norm=none where the task "
                "has it stacks them)")
        if isinstance(module, nn.modules.dropout._DropoutNd) and module.p > 0:
            raise NotStackable(
                f"{task.name}: the model has dropout p={module.p} ({name}): a stacked member "
                "cannot replay its lone run's random stream, so it would not equal that run; "
                "the trials run one by one (set the task's dropout to 0 to stack them)")
    signature = _signature(members[0])
    for member in members[1:]:
        if _signature(member) != signature:
            raise NotStackable(f"{task.name}: the seeds build models with different "
                               "parameters or buffers (names, shapes or dtypes)")
    if shared_buffers:  # native losses get one set of buffers for all members
        first = dict(members[0].named_buffers())
        for member in members[1:]:
            if not all(torch.equal(b, first[n]) for n, b in member.named_buffers()):
                raise NotStackable(f"{task.name}: the seeds build models with different "
                                   "buffers, which native stacked losses share")


def _signature(model: nn.Module) -> list[tuple[str, str, tuple[int, ...], torch.dtype, bool]]:
    return ([("param", n, tuple(p.shape), p.dtype, p.requires_grad)
             for n, p in model.named_parameters()]
            + [("buffer", n, tuple(b.shape), b.dtype, False) for n, b in model.named_buffers()])


def _alias_parameters(member: nn.Module, params: dict[str, Tensor], i: int) -> None:
    """Replace each parameter of `member` (every place a tied one is held) by a Parameter
    sharing storage with params[name][i]."""
    canonical = {id(p): name for name, p in member.named_parameters()}
    views: dict[int, nn.Parameter] = {}
    for module in member.modules():
        for attr, p in list(module._parameters.items()):
            if p is None:
                continue
            if id(p) not in views:
                views[id(p)] = nn.Parameter(params[canonical[id(p)]].detach()[i],
                                            requires_grad=p.requires_grad)
            module._parameters[attr] = views[id(p)]


def _timed_choice(task: Task, members: list[nn.Module], params: dict[str, Tensor],
                  device: torch.device | str, dtype: torch.dtype | None,
                  cache_dir: str | None) -> str:
    """vmap or loop, whichever trains this group's step faster (choice.py)."""
    from bench.engine.stacked.choice import choose, training_batches
    from tasks.data import default_cache_dir

    vmap_fn, _ = vmap_losses(task, members, params)
    steps = {"loop": loop_backward(task, members, params),
             "vmap": lambda batch: vmap_fn(batch).sum().backward()}
    batch = stack_batches([batch_to(b, device, dtype)
                           for b in training_batches(task, len(members))])
    return choose(task, steps, params, batch, torch.device(device),
                  cache_dir or task.cache_dir or default_cache_dir())


def _native_losses(task: Task, params: dict[str, Tensor], buffers: dict[str, Tensor]
                   ) -> Callable[[Any], Tensor]:
    return lambda batch: task.stacked_losses(params, buffers, batch)


def _native_gradients(task: Task, params: dict[str, Tensor], buffers: dict[str, Tensor]
                      ) -> Callable[[Any], tuple[Tensor, dict[str, Tensor]]]:
    return lambda batch: task.stacked_gradients(params, buffers, batch)


# --- the build-time check -----------------------------------------------------------------
def _trial_forward(task: Task, stacked: StackedModel, device: torch.device | str,
                   dtype: torch.dtype | None) -> None:
    """One forward + backward of all members on a couple of training examples, and member 0's
    loss against its lone forward: a model that does not stack fails here, not mid-sweep."""
    dataset = task.train_dataset()
    n = min(CHECK_EXAMPLES, len(dataset))
    one = batch_to(task.collate([dataset[j] for j in range(n)]), device, dtype)
    try:
        losses = stacked.losses(stack_batches([one] * stacked.size))
        if tuple(losses.shape) != (stacked.size,):
            raise NotStackable(f"{task.name}: stacked losses have shape {tuple(losses.shape)}, "
                               f"expected ({stacked.size},)")
        losses.sum().backward()
        with torch.no_grad():
            lone = task.loss(stacked.members[0], one)
    except NotStackable:
        raise
    except Exception as err:  # whatever vmap or the model raised: the reason, said once
        first = (str(err).strip().splitlines() or [""])[0][:200]
        raise NotStackable(f"{task.name}: the model does not run stacked ({stacked.mode}): "
                           f"{type(err).__name__}: {first}") from err
    finally:
        for p in stacked.params.values():
            p.grad = None
    got, want = float(losses[0].detach()), float(lone)
    if not abs(got - want) <= CHECK_RTOL * max(abs(want), 1e-12):
        raise NotStackable(f"{task.name}: the stacked loss of member 0 ({got!r}) differs from "
                           f"its lone model's ({want!r}); the trials run one by one")


def batch_to(batch: Any, device: torch.device | str, dtype: torch.dtype | None = None) -> Any:
    """A collated batch on `device`, floating tensors in `dtype` (if given)."""
    if isinstance(batch, Tensor):
        cast = dtype if dtype is not None and batch.is_floating_point() else None
        return batch.to(device=device, dtype=cast)
    if isinstance(batch, Mapping):
        return {k: batch_to(v, device, dtype) for k, v in batch.items()}
    if isinstance(batch, (tuple, list)):
        parts = [batch_to(v, device, dtype) for v in batch]
        return type(batch)(*parts) if hasattr(batch, "_fields") else type(batch)(parts)
    return batch
