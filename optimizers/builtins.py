"""The optimizer grid of SPEC §2: four directions x {decoupled, coupled}, plus the newer decay
styles (fixed, corrected, cautious) on the two l_inf directions the quadratic task compares.

Lion's and SignGD's grids sit ~10x lower in lr and ~10x higher in weight decay than AdamW's:
their updates have unit l_inf norm per coordinate, larger than Adam's. A `fixed` λ is a
per-step fraction, so its grid is the decoupled grid times the default lr (same radius η/λ as
the decoupled 1/λ at that lr). `corrected` and `cautious` use λ as decoupled decay does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType
from typing import Any

from optimizers.adam import Adam
from optimizers.base import DecayedOptimizer
from optimizers.lion import Lion
from optimizers.muon import register_muon
from optimizers.registry import Registry
from optimizers.sgd import SGD
from optimizers.sign import SignSGD

ADAM_LR = (3e-4, 1e-3, 3e-3, 1e-2)
SIGN_LR = (3e-5, 1e-4, 3e-4, 1e-3)
SGD_LR = (3e-3, 1e-2, 3e-2, 1e-1)
DECOUPLED_WD = (0.01, 0.03, 0.1, 0.3)
SIGN_DECOUPLED_WD = (0.1, 0.3, 1.0, 3.0)
COUPLED_WD = (1e-5, 1e-4, 1e-3, 1e-2)
FIXED_WD = (1e-5, 3e-5, 1e-4, 3e-4)  # per step: DECOUPLED_WD x 1e-3, SIGN_DECOUPLED_WD x 1e-4


@dataclass(frozen=True)
class Builtin:
    """One row of the grid: a direction (the class) composed with a decay style."""

    name: str
    cls: type[DecayedOptimizer]
    decay: str
    lr: float
    weight_decay: float
    lr_grid: tuple[float, ...]
    weight_decay_grid: tuple[float, ...]
    description: str
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    norm: str = "linf"  # the steepest-descent norm of the direction

    @property
    def direction(self) -> str:
        return self.cls.direction

    @property
    def defaults(self) -> dict[str, Any]:
        return {"lr": self.lr, "weight_decay": self.weight_decay, **self.options}


SGD_OPTIONS = MappingProxyType({"momentum": 0.9})

GRID = [
    Builtin("adamw", Adam, "decoupled", 1e-3, 0.1, ADAM_LR, DECOUPLED_WD,
            "Adam with decoupled weight decay (torch.optim.AdamW)"),
    Builtin("adam_l2", Adam, "coupled", 1e-3, 1e-4, ADAM_LR, COUPLED_WD,
            "Adam with an l2 penalty (torch.optim.Adam(weight_decay=...))"),
    Builtin("signgd_wd", SignSGD, "decoupled", 1e-4, 1.0, SIGN_LR, SIGN_DECOUPLED_WD,
            "SignGD with decoupled weight decay (Frank-Wolfe on the box)"),
    Builtin("signgd_l2", SignSGD, "coupled", 1e-4, 1e-4, SIGN_LR, COUPLED_WD,
            "SignGD on loss + l2 penalty: decay enters the sign"),
    Builtin("lion", Lion, "decoupled", 1e-4, 1.0, SIGN_LR, SIGN_DECOUPLED_WD,
            "Lion with decoupled weight decay (Chen et al. 2023)"),
    Builtin("lion_l2", Lion, "coupled", 1e-4, 1e-4, SIGN_LR, COUPLED_WD,
            "Lion on loss + l2 penalty"),
    Builtin("sgdw", SGD, "decoupled", 1e-2, 0.01, SGD_LR, DECOUPLED_WD,
            "SGD with momentum and decoupled weight decay", SGD_OPTIONS, "l2"),
    Builtin("sgd_l2", SGD, "coupled", 1e-2, 1e-4, SGD_LR, COUPLED_WD,
            "SGD with momentum and an l2 penalty (torch.optim.SGD)", SGD_OPTIONS, "l2"),
    Builtin("adamw_fixed", Adam, "fixed", 1e-3, 1e-4, ADAM_LR, FIXED_WD,
            "Adam with x <- (1 - λ) x per step, whatever the lr (pytorch_optimizer fixed_decay)"),
    Builtin("adamc", Adam, "corrected", 1e-3, 0.1, ADAM_LR, DECOUPLED_WD,
            "AdamC: decoupled decay at λ_t = λ η_t/η_max (Defazio 2025)"),
    Builtin("adamw_cautious", Adam, "cautious", 1e-3, 0.1, ADAM_LR, DECOUPLED_WD,
            "AdamW decaying only where update and parameter agree in sign (Chen et al. 2025)"),
    Builtin("signgd_fixed", SignSGD, "fixed", 1e-4, 1e-4, SIGN_LR, FIXED_WD,
            "SignGD with x <- (1 - λ) x per step, whatever the lr"),
    Builtin("signgd_corrected", SignSGD, "corrected", 1e-4, 1.0, SIGN_LR, SIGN_DECOUPLED_WD,
            "SignGD with AdamC's corrected decay λ_t = λ η_t/η_max"),
    Builtin("signgd_cautious", SignSGD, "cautious", 1e-4, 1.0, SIGN_LR, SIGN_DECOUPLED_WD,
            "SignGD with cautious weight decay (decay only where sign(g) agrees with x)"),
]


def register_builtins(registry: Registry) -> None:
    for row in GRID:
        registry.register(row.name, decay_style=row.decay, direction=row.direction,
                          defaults=row.defaults, lr_grid=row.lr_grid,
                          weight_decay_grid=row.weight_decay_grid, norm=row.norm,
                          description=row.description)(partial(row.cls, decay=row.decay))
    register_muon(registry)
