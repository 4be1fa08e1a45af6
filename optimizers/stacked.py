"""Optimizers that step a stacked group: T trials that differ only in lr, λ and seed, each
parameter one leaf tensor [T, *shape] (trial dimension first; issue #14, Interface A).

    opt = stacked_optimizer("adamw", params, decayed, lrs, weight_decays, options)
    opt.set_lr_multiplier(schedule(t)); opt.step(); opt.zero_grad()

Two paths, one interface:

- native (`opt.native`): the built-ins with an elementwise direction (Adam, SignGD/Signum,
  Lion, SGD; every decay style) step all T members with one op set per tensor, the per-trial
  η_t = lr_i · multiplier and decay terms broadcast along dim 0 (`stacked_steps`,
  `decay.stacked_decay_terms`). Member i equals that built-in run alone on the same gradients
  to rounding in float64 (tests/optimizers/test_stacked.py). Adam where the trial alone runs
  torch's fused kernel and a member is big enough (`stacked_fused.applies`) steps member by
  member through that kernel instead: bit for bit as alone, and cache-sized passes.
- views: everything else (submissions, Muon) runs unchanged: one optimizer per trial, made by
  `optimizers.create` with the runner's two param groups (decayed at λ_i, undecayed at 0) over
  leaf aliases of the member's slices, its `.grad` pointed at the stacked gradient's slice.
  Member i then steps exactly as alone.

`freeze(i)` (a diverged member): its slices (parameters and optimizer state) never change
again, whatever its gradients hold; the others go on.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

import optimizers
from optimizers import validation
from optimizers.adam import Adam
from optimizers.decay import stacked_decay_terms
from optimizers.lion import Lion
from optimizers.sgd import SGD
from optimizers.sign import SignSGD
from optimizers.stacked_fused import applies as member_calls_apply
from optimizers.stacked_fused import step_members
from optimizers.stacked_steps import (
    Step,
    Terms,
    adam_step,
    as_float64,
    broadcast,
    host_terms,
    lion_step,
    sgd_step,
    sign_step,
)


class StackedOptimizer(ABC):
    """Steps T stacked trials; member i steps at lrs[i] * multiplier with weight decay
    weight_decays[i] on its decayed tensors."""

    native: bool = False

    # The single-trial optimizer's `defaults` (its resolved options: `decay` for the built-ins,
    # so `defaults.get("decay", spec.decay_style)` names the style that really runs).
    defaults: dict[str, Any]

    def __init__(self, params: Mapping[str, Tensor], lrs: Sequence[float]) -> None:
        self.params = dict(params)
        self.size = len(lrs)
        self.base_lrs = [float(lr) for lr in lrs]
        self.multiplier = 1.0
        self.frozen: set[int] = set()

    def current_lrs(self) -> list[float]:
        """Each member's η_t now: lrs[i] * multiplier (a single trial's get_last_lr()[0])."""
        return [lr * self.multiplier for lr in self.base_lrs]

    @abstractmethod
    def step(self) -> None:
        """One step of every member not frozen, from the stacked params' .grad [T, ...]."""

    def zero_grad(self) -> None:
        for p in self.params.values():
            p.grad = None

    def set_lr_multiplier(self, multiplier: float) -> None:
        """The schedule's value for the coming step (LambdaLR's lmbda(t); call it before the
        first step too): member i steps at lrs[i] * multiplier, LambdaLR's product."""
        self.multiplier = float(multiplier)

    def freeze(self, member: int) -> None:
        """Member `member` never changes again (its gradients are never read)."""
        if not 0 <= member < self.size:
            raise IndexError(f"member {member} out of range for a group of {self.size}")
        self.frozen.add(member)

    @abstractmethod
    def state_dict(self) -> dict[str, Any]: ...

    @abstractmethod
    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...

    def member_optimizer(self, member: int) -> torch.optim.Optimizer | None:
        """The single-trial optimizer stepping member `member` (views path), else None."""
        return None

    def _check_kind(self, state: Mapping[str, Any], kind: str) -> None:
        if state.get("kind") != kind or state.get("size") != self.size:
            raise ValueError(f"state_dict is for a {state.get('kind')} group of "
                             f"{state.get('size')}, not a {kind} group of {self.size}")


def stacked_optimizer(name: str, params: Mapping[str, Tensor], decayed: Mapping[str, bool],
                      lrs: Sequence[float], weight_decays: Sequence[float],
                      options: Mapping[str, Any] | None = None,
                      members: Sequence[torch.nn.Module] | None = None,
                      views: bool = False) -> StackedOptimizer:
    """The stacked optimizer for `name` (a registered name or `module:attr`): native for the
    built-ins with an elementwise direction, else (or with views=True) per-trial views.
    `decayed`: name -> whether λ applies (the runner's decay mask). `members`: modules whose
    parameters alias the slices (member i's params[name][i]); the views path then steps those
    very parameters, so `member_optimizer(i)` answers questions about them."""
    options = dict(options or {})
    _check_group(params, decayed, lrs, weight_decays, members)
    spec = optimizers.spec(name)
    cls = _builtin_class(spec.factory)
    step = native_step(cls) if cls is not None and not views else None
    if step is None:
        return ViewsStacked(name, params, decayed, lrs, weight_decays, options, members)
    # The single-trial constructor validates the options and fills in the defaults.
    probe = optimizers.create(name, [torch.zeros(1)], lr=lrs[0],
                              weight_decay=weight_decays[0], **options)
    stacked = NativeStacked(step, dict(probe.defaults), params, decayed, lrs, weight_decays)
    stacked.member_calls = cls is Adam and member_calls_apply(stacked.hyper, stacked.params)
    return stacked


NATIVE_STEPS: dict[type, Step] = {Adam: adam_step, SignSGD: sign_step, Lion: lion_step,
                                  SGD: sgd_step}


def native_step(cls: type) -> Step | None:
    """The native stacked step of a built-in direction class, or None (the views path).

    Muon has none: its Newton-Schulz iteration is bfloat16 matmuls, and torch's batched
    `baddbmm` on a [T, m, n] batch does not always round as the single-matrix `addmm` does
    (measured on CPU: 3 of 300 random batches of three 5x4 matrices differ by a bfloat16 ulp in
    the last iteration); a batched Muon moved members up to 1.3e-7 relative from their runs
    alone in tests/optimizers/test_stacked.py's 100 steps. Through the views path Muon steps
    bit for bit as alone."""
    return NATIVE_STEPS.get(cls)


def _builtin_class(factory: Any) -> type | None:
    """The DecayedOptimizer class behind a built-in's factory (functools.partial(cls, ...))."""
    if isinstance(factory, functools.partial):
        factory = factory.func
    return factory if isinstance(factory, type) else None


def _check_group(params: Mapping[str, Tensor], decayed: Mapping[str, bool],
                 lrs: Sequence[float], weight_decays: Sequence[float],
                 members: Sequence[torch.nn.Module] | None) -> None:
    size = len(lrs)
    if size == 0 or len(weight_decays) != size:
        raise ValueError(f"need one weight decay per lr, got {size} lrs and "
                         f"{len(weight_decays)} weight decays")
    for lr, wd in zip(lrs, weight_decays):
        validation.positive("lr", lr)
        validation.non_negative("weight_decay", wd)
    if set(decayed) != set(params):
        raise ValueError("decayed must name exactly the stacked params")
    for key, p in params.items():
        if p.ndim == 0 or p.shape[0] != size:
            raise ValueError(f"stacked param {key!r} has shape {tuple(p.shape)}; "
                             f"its first dimension must be the group size {size}")
    if members is not None and len(members) != size:
        raise ValueError(f"need {size} members, got {len(members)}")


class NativeStacked(StackedOptimizer):
    """One op set per stacked tensor for all members (see `stacked_steps`); or, with
    `member_calls`, Adam's fused kernel member by member (`stacked_fused`)."""

    native = True
    member_calls = False

    def __init__(self, step: Step, hyper: dict[str, Any], params: Mapping[str, Tensor],
                 decayed: Mapping[str, bool], lrs: Sequence[float],
                 weight_decays: Sequence[float]) -> None:
        super().__init__(params, lrs)
        self._step_fn, self.hyper = step, hyper
        self.defaults = hyper
        self.decayed = {k: bool(v) for k, v in decayed.items()}
        device = next(iter(self.params.values())).device
        self.lrs = as_float64(lrs, device)  # lr_max of each member: its peak lr
        self.weight_decays = as_float64(weight_decays, device)
        self._weight_decay_values = [float(wd) for wd in weight_decays]
        # On a CPU the per-step terms come from host arrays (stacked_steps.host_terms).
        self._host = device.type == "cpu"
        self._host_arrays = (self.lrs.cpu().numpy(), self.weight_decays.cpu().numpy(),
                             np.zeros(self.size))
        self._any_decay = any(float(wd) != 0.0 for wd in weight_decays)
        self._frozen_index: Tensor | None = None  # built once a freeze, not every step
        self.state: dict[str, dict[str, Any]] = {k: {"step": 0} for k in self.params}
        self._snapshots: dict[int, dict[str, dict[str, Tensor]]] = {}
        self._terms: dict[tuple[bool, int, torch.dtype], Terms] = {}

    def set_lr_multiplier(self, multiplier: float) -> None:
        if float(multiplier) != self.multiplier:
            self._terms.clear()
        super().set_lr_multiplier(multiplier)

    def _terms_for(self, decayed: bool, p: Tensor, host: bool | None = None) -> Terms:
        """Member i's η_t and decay terms, [T, 1, ...] in p's dtype; from host arrays on a
        CPU (`host`: force one way, for the tests)."""
        key = (decayed, p.ndim, p.dtype)
        if key not in self._terms and (self._host if host is None else host):
            lrs, wds, zeros = self._host_arrays
            self._terms[key] = host_terms(self.hyper["decay"], lrs, self.multiplier,
                                          wds if decayed else zeros,
                                          decayed and self._any_decay, p.ndim, p.dtype)
        if key not in self._terms:
            lr = self.lrs * self.multiplier  # float64, as LambdaLR's base_lr * multiplier
            wd = self.weight_decays if decayed else torch.zeros_like(self.weight_decays)
            raw = stacked_decay_terms(self.hyper["decay"], wd, lr, self.lrs,
                                      any_decay=decayed and self._any_decay)

            def shaped(t: Tensor | None) -> Tensor | None:
                return None if t is None else broadcast(t, p.ndim, p.dtype)

            self._terms[key] = Terms(lr=shaped(lr), neg_lr=shaped(-lr),
                                     coupled=shaped(raw.coupled), shrink=shaped(raw.shrink),
                                     cautious=raw.cautious)
        return self._terms[key]

    @torch.no_grad()
    def step(self) -> None:
        if self.member_calls:  # a frozen member is never stepped: nothing to restore
            step_members(self.hyper, self.params, self.state, self.decayed,
                         self.current_lrs(), self.base_lrs, self._weight_decay_values,
                         self.frozen)
            return
        index = self._frozen_index
        for key, p in self.params.items():
            if p.grad is None:
                continue
            g = p.grad
            if index is not None:  # a frozen member's NaN/inf must not enter the arithmetic
                g = g.index_fill(0, index, 0.0)
            terms = self._terms_for(self.decayed[key], p)
            if terms.coupled is not None:
                g = g.addcmul(p, terms.coupled)  # g + c x, as `decay.couple`
            state = self.state[key]
            state["step"] += 1
            self._step_fn(self.hyper, state, p, g, state["step"], terms, key)
        self._restore_frozen()

    def freeze(self, member: int) -> None:
        super().freeze(member)
        self._frozen_index = torch.tensor(sorted(self.frozen), dtype=torch.long,
                                          device=self.lrs.device)
        if member not in self._snapshots:
            self._snapshots[member] = {
                key: {"param": p.detach()[member].clone(),
                      **{k: v[member].clone() for k, v in self.state[key].items()
                         if isinstance(v, Tensor)}}
                for key, p in self.params.items()}

    def _restore_frozen(self) -> None:
        """Write each frozen member's rows back (state created after the freeze: its zeros)."""
        for member, snapshot in self._snapshots.items():
            for key, p in self.params.items():
                saved = snapshot[key]
                p.detach()[member].copy_(saved["param"])
                for k, v in self.state[key].items():
                    if isinstance(v, Tensor):
                        v[member].copy_(saved[k]) if k in saved else v[member].zero_()

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "native", "size": self.size, "multiplier": self.multiplier,
                "lrs": self.lrs.tolist(), "weight_decays": self.weight_decays.tolist(),
                "state": {k: dict(v) for k, v in self.state.items()},
                "frozen": {m: {k: dict(v) for k, v in s.items()}
                           for m, s in self._snapshots.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._check_kind(state, "native")
        if state["lrs"] != self.lrs.tolist() or \
                state["weight_decays"] != self.weight_decays.tolist():
            raise ValueError("state_dict is for another group's lrs or weight decays")
        if set(state["state"]) != set(self.params):
            raise ValueError("state_dict names other parameters than this group's")

        def copied(entries: Mapping[str, Any], like: Tensor) -> dict[str, Any]:
            return {k: v.detach().clone().to(like.device) if isinstance(v, Tensor) else v
                    for k, v in entries.items()}

        self.state = {k: copied(state["state"][k], p) for k, p in self.params.items()}
        self._snapshots = {int(m): {k: copied(s[k], self.params[k]) for k in self.params}
                           for m, s in state["frozen"].items()}
        self.frozen = set(self._snapshots)
        self._frozen_index = torch.tensor(sorted(self.frozen), dtype=torch.long,
                                          device=self.lrs.device) if self.frozen else None
        self.set_lr_multiplier(state["multiplier"])


class ViewsStacked(StackedOptimizer):
    """One unchanged single-trial optimizer per member over aliases of its slices."""

    native = False

    def __init__(self, name: str, params: Mapping[str, Tensor], decayed: Mapping[str, bool],
                 lrs: Sequence[float], weight_decays: Sequence[float],
                 options: Mapping[str, Any],
                 members: Sequence[torch.nn.Module] | None = None) -> None:
        super().__init__(params, lrs)
        by_name = optimizers.spec(name).norm_rule is not None
        self.aliases = [_aliases(self.params, i, members[i] if members else None)
                        for i in range(self.size)]
        self.optimizers: list[torch.optim.Optimizer] = []
        for named, lr, wd in zip(self.aliases, lrs, weight_decays):
            # bench/engine/context.py::build's two groups, with torch's named params for Muon's
            # recipe.
            groups = [{"params": [(n, p) if by_name else p for n, p in named.items()
                                  if bool(decayed[n]) is decay], "weight_decay": w}
                      for decay, w in ((True, wd), (False, 0.0))]
            groups = [g for g in groups if g["params"]]
            self.optimizers.append(optimizers.create(name, groups, lr=lr, weight_decay=wd,
                                                     **dict(options)))
        self._base_lrs = [[g["lr"] for g in opt.param_groups] for opt in self.optimizers]
        self.defaults = dict(self.optimizers[0].defaults)

    def member_optimizer(self, member: int) -> torch.optim.Optimizer:
        return self.optimizers[member]

    def set_lr_multiplier(self, multiplier: float) -> None:
        super().set_lr_multiplier(multiplier)
        for opt, bases in zip(self.optimizers, self._base_lrs):
            for group, base in zip(opt.param_groups, bases):
                lr = base * self.multiplier  # LambdaLR's base_lr * lmbda(t)
                if isinstance(group["lr"], Tensor):
                    group["lr"].fill_(lr)
                else:
                    group["lr"] = lr

    def step(self) -> None:
        for i, (opt, named) in enumerate(zip(self.optimizers, self.aliases)):
            if i in self.frozen:
                continue
            for key, alias in named.items():
                grad = self.params[key].grad
                alias.grad = None if grad is None else grad[i]
            opt.step()
            for alias in named.values():
                alias.grad = None  # the slices belong to the stacked .grad

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "views", "size": self.size, "multiplier": self.multiplier,
                "frozen": sorted(self.frozen),
                "optimizers": [opt.state_dict() for opt in self.optimizers]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._check_kind(state, "views")
        for opt, saved in zip(self.optimizers, state["optimizers"]):
            opt.load_state_dict(saved)
        self.frozen = set(state["frozen"])
        self.multiplier = float(state["multiplier"])


def _aliases(params: Mapping[str, Tensor], member: int,
             module: torch.nn.Module | None) -> dict[str, Tensor]:
    """Leaf tensors sharing storage with params[name][member]: the member module's own
    parameters where given (checked to alias), else new ones."""
    if module is None:
        return {k: torch.nn.Parameter(p.detach()[member]) for k, p in params.items()}
    named = dict(module.named_parameters())
    out = {}
    for key, p in params.items():
        q = named.get(key)
        row = p.detach()[member]
        if q is None or q.data_ptr() != row.data_ptr() or q.shape != row.shape:
            raise ValueError(f"member {member}'s parameter {key!r} does not alias "
                             f"params[{key!r}][{member}]")
        out[key] = q
    return out
