"""DecayedOptimizer: a direction (what a method does with a gradient) composed with a decay
style (where weight decay enters). Subclasses write only the direction."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, ClassVar

import torch
from torch import Tensor

from optimizers import validation
from optimizers.decay import DecayStyle, DecayTerms, couple, decay_terms

# Directions are computed a bucket of parameters at a time: small tensors share a bucket (few
# calls), a large tensor gets its own. Temporaries then stay small and are reused from the
# allocator's cache instead of being mapped and unmapped from the OS every step.
BUCKET_ELEMENTS = 1 << 18


class DecayedOptimizer(torch.optim.Optimizer):
    """x <- shrink x - lr d(g + coupled x), with (coupled, shrink) from the decay stage
    (`decay.decay_terms`) once per group and step; under `cautious` decay the shrink applies
    only where d x >= 0.

    Param groups carry `lr`, `weight_decay`, `decay` and `lr_max` (the peak learning rate, used
    by the styles that follow the schedule; it defaults to the group's initial `lr`), and `impl`
    where a direction has several implementations. A direction writes `_directions` (the
    readable, eager path, which every style can use); it may add `_fused_update`, one call for
    direction and decay together (a numba kernel, torch's own Adam), tried first.
    """

    direction: ClassVar[str] = ""
    # Values a group's "impl" may take; empty for a direction with one implementation.
    implementations: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        params: Any,
        lr: float,
        weight_decay: float = 0.0,
        decay: str | DecayStyle = DecayStyle.DECOUPLED,
        **hyper: Any,
    ) -> None:
        validation.positive("lr", lr)
        validation.non_negative("weight_decay", weight_decay)
        defaults = dict(lr=lr, weight_decay=weight_decay, decay=DecayStyle.parse(decay).value)
        defaults.update(hyper)
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        group["decay"] = DecayStyle.parse(group["decay"]).value
        group.setdefault("lr_max", group["lr"])
        if self.implementations and group.get("impl") not in self.implementations:
            raise ValueError(f"impl must be one of {self.implementations}, "
                             f"got {group.get('impl')!r}")

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A state_dict saved before an option existed loads with the option's default.
        super().__setstate__(state)
        for group in self.param_groups:
            for key, value in self.defaults.items():
                group.setdefault(key, value)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """torch's `zero_grad`, less its profiler range where grads are set to None: that
        costs ~7 µs a call, a twentieth of a whole step of the tiny tasks. Zeroing in place
        (`set_to_none=False`) is torch's own."""
        if not set_to_none:
            super().zero_grad(set_to_none=False)
            return
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._update(group, params, [p.grad for p in params])
        return loss

    def _update(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]) -> None:
        terms = decay_terms(group["decay"], group["weight_decay"], group["lr"], group["lr_max"])
        # The cautious mask needs the direction itself: only the eager path has it.
        if not terms.cautious and self._fused_update(group, params, grads, terms):
            return
        for ps, gs in _buckets(params, grads):
            apply_update(ps, self._directions(group, ps, couple(gs, ps, terms.coupled)),
                         group["lr"], terms)

    def _directions(
        self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]
    ) -> list[Tensor]:
        """The update direction d for each parameter (updating any state); x moves by -lr * d."""
        raise NotImplementedError

    def _fused_update(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor],
                      terms: DecayTerms) -> bool:
        """The whole step x <- shrink x - lr d(g + coupled x) in one call, never asked for a
        cautious step. Returns False where none applies (e.g. the group's impl asks for the eager
        path); the eager path then runs."""
        return False

    def _state_buffers(self, params: list[Tensor], key: str,
                       dtype: torch.dtype | None = None) -> list[Tensor]:
        """The per-parameter state tensor `key`, created as zeros on first use (in `dtype`,
        default the parameter's)."""
        bufs = []
        for p in params:
            state = self.state[p]
            if key not in state:
                state[key] = torch.zeros_like(p, dtype=dtype)
            bufs.append(state[key])
        return bufs

    def _wants_compiled(self, group: dict[str, Any], params: list[Tensor]) -> bool:
        """impl='compiled' asks for the compiled step anywhere; 'fused' takes it on CUDA (on
        CPU, 'fused' means the numba kernels)."""
        impl = group.get("impl")
        return impl == "compiled" or (impl == "fused" and params[0].device.type == "cuda")

    def _compiled_update(self, name: str, tensor_lists: list[list[Tensor]],
                         **values: float | bool) -> bool:
        """One compiled one-pass step (`compiled_steps`); False where it does not apply, so
        the eager path runs. Floats travel as 0-dim device tensors, bools as constants."""
        from optimizers import compiled_steps

        if not compiled_steps.applies(*tensor_lists):
            return False
        if not hasattr(self, "_device_scalars"):
            self._device_scalars = compiled_steps.DeviceScalars()
        flags = {k: v for k, v in values.items() if isinstance(v, bool)}
        numbers = {k: float(v) for k, v in values.items() if not isinstance(v, bool)}
        first = tensor_lists[0][0]
        scalars = self._device_scalars(first.device, compiled_steps.compute_dtype(first.dtype),
                                       **numbers)
        return compiled_steps.run(name, *tensor_lists, **scalars, **flags)


def load_sign_kernels(*tensor_lists: list[Tensor]) -> ModuleType | None:
    """The numba kernels if they can step these tensors, else None: the eager path then runs,
    slower but the same formula. Imported on first use (numba takes ~0.3 s to import); where
    numba is missing, None with a warning."""
    try:
        sign_kernels = importlib.import_module("optimizers.sign_kernels")
    except ImportError as exc:
        warnings.warn(f"impl='fused' needs numba ({exc}); running impl='foreach' instead. "
                      "Fix: pip install numba", RuntimeWarning, stacklevel=4)
        return None
    return sign_kernels if sign_kernels.fusable(*tensor_lists) else None


def _buckets(params: list[Tensor], grads: list[Tensor]
             ) -> Iterator[tuple[list[Tensor], list[Tensor]]]:
    start, size = 0, 0
    for i, p in enumerate(params):
        if size and size + p.numel() > BUCKET_ELEMENTS:
            yield params[start:i], grads[start:i]
            start, size = i, 0
        size += p.numel()
    yield params[start:], grads[start:]


def apply_update(params: list[Tensor], directions: list[Tensor], lr: float,
                 terms: DecayTerms) -> None:
    """x <- shrink x - lr d, in place: the shrink first, as in the published formulas; under
    cautious decay the shrink only where d x >= 0 (where decay and update agree in sign).

    (torch's fused SGD kernel would do both in one pass, as x - lr (d + rate x): about 10%
    faster for SignGD-WD in `make perf` on a 2-core CPU, but it rounds differently from the
    published order of operations, and sign methods amplify rounding.)"""
    if terms.cautious:
        for p, d in zip(params, directions):
            p.copy_(torch.where(d * p >= 0, p * terms.shrink, p))
    elif terms.shrink != 1.0:
        torch._foreach_mul_(params, terms.shrink)
    torch._foreach_add_(params, directions, alpha=-lr)
