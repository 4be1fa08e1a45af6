"""The optimizer grid of SPEC §2: four directions x {decoupled, coupled}.

Lion's and SignGD's grids sit ~10x lower in lr and ~10x higher in weight decay than AdamW's:
their updates have unit l_inf norm per coordinate, larger than Adam's."""

from __future__ import annotations

from functools import partial

from optimizers.adam import Adam
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

GRID = [
    # name, class, direction, decay, defaults, lr grid, wd grid, norm, description
    ("adamw", Adam, "adam", "decoupled", {"lr": 1e-3, "weight_decay": 0.1}, ADAM_LR,
     DECOUPLED_WD, "linf", "Adam with decoupled weight decay (torch.optim.AdamW)"),
    ("adam_l2", Adam, "adam", "coupled", {"lr": 1e-3, "weight_decay": 1e-4}, ADAM_LR,
     COUPLED_WD, "linf", "Adam with an l2 penalty (torch.optim.Adam(weight_decay=...))"),
    ("signgd_wd", SignSGD, "sign", "decoupled", {"lr": 1e-4, "weight_decay": 1.0}, SIGN_LR,
     SIGN_DECOUPLED_WD, "linf", "SignGD with decoupled weight decay (Frank-Wolfe on the box)"),
    ("signgd_l2", SignSGD, "sign", "coupled", {"lr": 1e-4, "weight_decay": 1e-4}, SIGN_LR,
     COUPLED_WD, "linf", "SignGD on loss + l2 penalty: decay enters the sign"),
    ("lion", Lion, "lion", "decoupled", {"lr": 1e-4, "weight_decay": 1.0}, SIGN_LR,
     SIGN_DECOUPLED_WD, "linf", "Lion with decoupled weight decay (Chen et al. 2023)"),
    ("lion_l2", Lion, "lion", "coupled", {"lr": 1e-4, "weight_decay": 1e-4}, SIGN_LR,
     COUPLED_WD, "linf", "Lion on loss + l2 penalty"),
    ("sgdw", SGD, "sgd", "decoupled", {"lr": 1e-2, "weight_decay": 0.01, "momentum": 0.9},
     SGD_LR, DECOUPLED_WD, "l2", "SGD with momentum and decoupled weight decay"),
    ("sgd_l2", SGD, "sgd", "coupled", {"lr": 1e-2, "weight_decay": 1e-4, "momentum": 0.9},
     SGD_LR, COUPLED_WD, "l2", "SGD with momentum and an l2 penalty (torch.optim.SGD)"),
]


def register_builtins(registry: Registry) -> None:
    for name, cls, direction, decay, defaults, lrs, wds, norm, text in GRID:
        factory = partial(cls, decay=decay)
        registry.register(name, decay_style=decay, direction=direction, defaults=defaults,
                          lr_grid=lrs, weight_decay_grid=wds, norm=norm,
                          description=text)(factory)
    register_muon(registry)
