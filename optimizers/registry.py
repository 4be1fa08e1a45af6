"""Optimizer registry: each optimizer declares its parameters once (benchopt style); the same
names flow through suite files, the CLI (`--set lr=...`) and result columns."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any

import torch

from optimizers.decay import DecayStyle, implied_radius

ENTRY_POINT_GROUP = "wdbench.optimizers"
Factory = Callable[..., torch.optim.Optimizer]


@dataclass(frozen=True)
class OptimizerSpec:
    """What the benchmark knows about a registered optimizer."""

    name: str
    factory: Factory
    decay_style: DecayStyle
    direction: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    lr_grid: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3)
    weight_decay_grid: tuple[float, ...] = (0.0, 0.01, 0.1, 1.0)
    # Norm of the steepest descent the direction approximates: the l_inf box theory of
    # decoupled decay (SPEC §1) applies to 'linf' directions (Adam, SignGD, Lion).
    norm: str = "linf"
    description: str = ""
    source: str = "builtin"
    # Per-tensor norm (name, tensor) -> 'linf' | 'spectral' | 'l2', where it differs by tensor
    # (Muon: spectral on hidden matrices, linf elsewhere); None: `norm` for every tensor.
    norm_rule: Callable[[str, torch.Tensor], str] | None = None

    def norm_for(self, name: str, tensor: torch.Tensor) -> str:
        """The norm this optimizer's update is steepest for, on one tensor."""
        return self.norm_rule(name, tensor) if self.norm_rule else self.norm

    def radius(self, weight_decay: float, lr: float, lr_max: float) -> float | None:
        """Implied l_inf radius of this decay style at lr `lr` (η_t), or None (no box)."""
        return implied_radius(self.decay_style, weight_decay, lr, lr_max)

    def search_space(self) -> dict[str, tuple[float, ...]]:
        return {"lr": self.lr_grid, "weight_decay": self.weight_decay_grid}


class Registry:
    """Name -> OptimizerSpec, with lazy discovery of contrib files and entry points."""

    def __init__(self) -> None:
        self._specs: dict[str, OptimizerSpec] = {}
        self._plugins_loaded = False

    def register(self, name: str, *, decay_style: str | DecayStyle, direction: str = "custom",
                 defaults: Mapping[str, Any] | None = None,
                 lr_grid: Iterable[float] | None = None,
                 weight_decay_grid: Iterable[float] | None = None, norm: str = "linf",
                 description: str = "", source: str = "builtin",
                 norm_rule: Callable[[str, torch.Tensor], str] | None = None,
                 ) -> Callable[[Factory], Factory]:
        """Decorator for an Optimizer class or a factory `make(params, lr=, weight_decay=, ...)`."""

        def decorate(factory: Factory) -> Factory:
            if name in self._specs and self._specs[name].factory is not factory:
                raise ValueError(f"optimizer name {name!r} is already registered")
            kwargs: dict[str, Any] = {}
            if lr_grid is not None:
                kwargs["lr_grid"] = tuple(float(v) for v in lr_grid)
            if weight_decay_grid is not None:
                kwargs["weight_decay_grid"] = tuple(float(v) for v in weight_decay_grid)
            self._specs[name] = OptimizerSpec(
                name=name, factory=factory, decay_style=DecayStyle.parse(decay_style),
                direction=direction, defaults=MappingProxyType(dict(defaults or {})),
                norm=norm, description=description or (factory.__doc__ or "").strip(),
                source=source, norm_rule=norm_rule, **kwargs,
            )
            return factory

        return decorate

    def load_plugins(self) -> None:
        """Import optimizers/contrib/*.py and the `wdbench.optimizers` entry points, once."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        contrib = importlib.import_module("optimizers.contrib")
        for info in pkgutil.iter_modules(contrib.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"optimizers.contrib.{info.name}")
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            obj = ep.load()
            # A module registers itself on import; a bare class/factory is registered by name.
            if callable(obj) and ep.name not in self._specs:
                decay = getattr(obj, "decay_style", "decoupled")
                self.register(ep.name, decay_style=decay, source=f"entry point {ep.value}")(obj)

    def available(self) -> list[str]:
        self.load_plugins()
        return sorted(self._specs)

    def spec(self, name: str) -> OptimizerSpec:
        """A registered name, or `module:attr` (imported and registered on first use, so any
        process, a spawned sweep worker too, resolves the same name)."""
        self.load_plugins()
        if name not in self._specs and ":" in name:
            self._register_import(name)
        if name not in self._specs:
            raise KeyError(
                f"unknown optimizer {name!r}; available: {', '.join(sorted(self._specs))} "
                "(or module:attr for an Optimizer class or factory)")
        return self._specs[name]

    def _register_import(self, target: str) -> None:
        """Register `module:attr` under that name; its `decay_style`, `lr_grid`,
        `weight_decay_grid`, `defaults` and `direction` attributes are used when present."""
        module_name, _, attr = target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except Exception as err:  # ImportError, AttributeError, an error the module raises
            raise KeyError(f"cannot import optimizer {target!r}: {err}") from None
        if not callable(obj):
            raise KeyError(f"optimizer {target!r} is a {type(obj).__name__}, not an Optimizer "
                           "class or factory")
        defaults = getattr(obj, "defaults", None)
        self.register(target, decay_style=getattr(obj, "decay_style", "decoupled"),
                      direction=str(getattr(obj, "direction", "custom")),
                      defaults=defaults if isinstance(defaults, Mapping) else None,
                      lr_grid=_grid(obj, "lr_grid"),
                      weight_decay_grid=_grid(obj, "weight_decay_grid"),
                      source=f"import {target}")(obj)

    def create(self, name: str, params: Any, **hyper: Any) -> torch.optim.Optimizer:
        spec = self.spec(name)
        return spec.factory(params, **{**spec.defaults, **hyper})


def _grid(obj: Any, attr: str) -> tuple[float, ...] | None:
    values = getattr(obj, attr, None)
    return tuple(float(v) for v in values) if isinstance(values, (list, tuple)) else None
