"""A trial's optimizer over the runner's two param groups: the one place the groups, the decay
style that really runs and the implied radius are decided, for lone trials (bench/engine/runner.py)
and stacked members (bench/engine/stacked/members.py) alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

import optimizers
from bench.measures import geometry
from bench.trial.config import Trial
from optimizers.decay import DecayStyle, implied_radius
from tasks.base import Task


@dataclass
class DecaySetup:
    """A trial's optimizer over the runner's two param groups (decayed at the trial's λ,
    the rest at 0), the decay style it really runs, and what the record says of both."""

    optimizer: torch.optim.Optimizer
    style: DecayStyle
    decayed: dict[str, torch.nn.Parameter]
    mask_info: dict[str, Any]
    radius: float | None  # implied by the decay style at η_t = lr_max (None: no box)
    metric_radius: float | None  # what linf_ratio is measured against (1/wd for coupled)


def decay_setup(trial: Trial, task: Task, spec: optimizers.OptimizerSpec,
                model: torch.nn.Module, mask: dict[str, bool]) -> DecaySetup:
    named = dict(model.named_parameters())
    decayed = {n: p for n, p in named.items() if mask.get(n)}
    undecayed = [p for n, p in named.items() if not mask.get(n)]
    # Optimizers that tell tensors apart by name (Muon's recipe) get torch's named params.
    by_name = spec.norm_rule is not None
    groups = [{"params": [(n, p) if by_name else p for n, p in named.items()
                          if bool(mask.get(n)) is decay], "weight_decay": wd}
              for decay, wd in ((True, trial.weight_decay), (False, 0.0))]
    groups = [g for g in groups if g["params"]]
    optimizer = optimizers.create(trial.optimizer, groups, lr=trial.lr,
                                  weight_decay=trial.weight_decay,
                                  **dict(trial.optimizer_options))
    # `--set decay=...` can override a built-in's declared style; the box follows the real one.
    style = DecayStyle.parse(optimizer.defaults.get("decay", spec.decay_style))
    radius = implied_radius(style, trial.weight_decay, trial.lr, trial.lr)
    metric_radius = radius or (1.0 / trial.weight_decay if trial.weight_decay > 0 else None)
    mask_info = {
        "policy": trial.mask or task.default_mask, "decayed": len(decayed),
        "undecayed": len(undecayed), "decayed_numel": sum(p.numel() for p in decayed.values()),
        "undecayed_numel": sum(p.numel() for p in undecayed),
        "geometry": geometry.tensor_geometries(optimizer, spec, decayed),
    }
    return DecaySetup(optimizer, style, decayed, mask_info, radius, metric_radius)

