"""Ledger records built by hand for the claims' verdict tests: the fields the claims read
(config, optimizer, schedule, timescale, task, final, curve, status), in the ledger's schema,
so that bench/ledger/store.py:flatten and the claims read them as they read real ones."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

# optimizer -> (direction, decay, norm), as optimizers/builtins.py registers them
KINDS = {"adamw": ("adam", "decoupled", "linf"), "adam_l2": ("adam", "coupled", "linf"),
         "signgd_wd": ("sign", "decoupled", "linf"), "signgd_l2": ("sign", "coupled", "linf"),
         "lion": ("lion", "decoupled", "linf"), "muon": ("muon", "decoupled", "spectral"),
         "adamw_cautious": ("adam", "cautious", "linf")}
THEOREM_SCHEDULES = {"constant": True, "inverse_sqrt": True, "cosine": False}


def curve(final: Mapping[str, Any], steps: Sequence[int] = (19_000, 20_000),
          change: float = 0.0) -> list[dict[str, Any]]:
    """Evaluation points ending at `final`; each earlier point's numbers are the final ones
    times (1 - change) per point back (change 0: settled over the last window)."""
    points = []
    for back, step in enumerate(reversed(steps)):
        factor = (1.0 - change) ** back
        points.append({"step": step, **{k: (v * factor if isinstance(v, float) else v)
                                        for k, v in final.items()}})
    return list(reversed(points))


def record(optimizer: str = "adamw", *, weight_decay: float = 2.0, lr: float = 0.05,
           seed: int = 0, final: Mapping[str, Any] | None = None,
           points: Sequence[Mapping[str, Any]] | None = None, status: str = "done",
           schedule: str = "inverse_sqrt", steps_per_epoch: float = 1,
           optimizer_options: Mapping[str, Any] | None = None, task: str = "quadratic",
           task_options: Mapping[str, Any] | None = None,
           instance: Mapping[str, Any] | None = None, change: float = 0.0) -> dict[str, Any]:
    """One trial's record. `points`: its curve (default: two points ending at `final` whose
    numbers changed by `change` relative over the last window; 0: settled)."""
    direction, decay, norm = KINDS[optimizer]
    if optimizer_options is None:
        optimizer_options = {"betas": [0.9, 0.99]} if direction == "adam" else {}
    final = {"train_loss": 4.6, "linf_norm": 0.5, **(final or {})}
    config = {"task": task, "optimizer": optimizer, "lr": lr, "weight_decay": weight_decay,
              "tau": None, "schedule": schedule, "warmup": 0, "mask": None, "seed": seed,
              "budget": "cpu", "steps": None, "eval_every": None, "checkpoint_every": None,
              "mixed_precision": "no", "grad_accum": 1, "compile": False,
              "optimizer_options": dict(optimizer_options),
              "task_options": dict(task_options or {})}
    radius = 1.0 / weight_decay if decay == "decoupled" and weight_decay > 0 else None
    trial_id = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    return {
        "id": trial_id, "schema": 2, "suite": "test", "code_fingerprint": "test",
        "config": config, "status": status,
        "diverged_at": 10 if status == "diverged" else None,
        "optimizer": {"decay": decay, "direction": direction, "norm": norm, "radius": radius,
                      "metric_radius": radius or (1.0 / weight_decay if weight_decay else None),
                      "lr_max": lr, "source": "builtin"},
        "schedule": {"name": schedule, "schedule_theorem": THEOREM_SCHEDULES[schedule]},
        "timescale": {"steps_per_epoch": steps_per_epoch, "tau_iter": None, "tau_epoch": None},
        "task": {"options": dict(task_options or {}), "instance": dict(instance or {})},
        "final": final if status == "done" else {},
        "curve": list(points) if points is not None else curve(final, change=change),
    }


def seeds(n: int = 3, *, metric: str | None = None, values: Sequence[float] | None = None,
          **kw: Any) -> list[dict[str, Any]]:
    """`n` seeds of one configuration; `values` sets `metric` per seed."""
    out = []
    for seed in range(n):
        final = dict(kw.pop("final", None) or {}) if seed == 0 else dict(out[0]["final"])
        if metric is not None and values is not None:
            final[metric] = values[seed]
        out.append(record(seed=seed, final=final, **kw))
    return out
