"""Generated ledgers with the full record schema of bench/ledger/store.py, for report tests and the
render benchmark. The numbers follow the shapes the theory predicts (decoupled optimizers end
inside their box, coupled ones near an l2-stationary point, coupled optima slide along the
lr x weight_decay diagonal) so the plots look like real ones, but they are not results."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.ledger.store import SCHEMA_VERSION, Ledger
from bench.measures.scoring import to_target
from bench.trial.config import Trial


@dataclass(frozen=True)
class SynthTask:
    name: str
    kind: str  # 'quadratic' | 'lm' | 'image'
    data_source: str
    data_fingerprint: str
    tensors: tuple[str, ...]
    schedule: str
    steps: int
    target: float | None = None  # of the selection metric (AlgoPerf-style scoring)


TASKS = {
    "quadratic": SynthTask("quadratic", "quadratic", "synthetic (dense H, d=20, kappa=1.5)",
                           "quad-5e1c0a", ("x",), "inverse_sqrt", 2000),
    "wikitext": SynthTask("wikitext", "lm", "wikitext-2-raw-v1 (local copy)", "wt2-9b31f7",
                          ("transformer.wte.weight", "transformer.h.0.attn.c_attn.weight",
                           "transformer.h.0.mlp.c_fc.weight", "transformer.h.1.attn.c_attn.weight",
                           "transformer.h.1.mlp.c_fc.weight"), "cosine", 600, 4.8),
    "cifar10": SynthTask("cifar10", "image", "uoft-cs/cifar10 (jpeg copy)", "c10-41d2e8",
                         ("conv1.weight", "layer1.0.conv1.weight", "layer2.0.conv1.weight",
                          "fc.weight"), "warmup_cosine", 800, 0.8),
}

# name -> (direction, decay style, norm, lr grid, weight-decay grid)
OPTIMIZERS = {
    "adamw": ("adam", "decoupled", "linf", (3e-4, 1e-3, 3e-3, 1e-2), (0.01, 0.03, 0.1, 0.3)),
    "adam_l2": ("adam", "coupled", "linf", (3e-4, 1e-3, 3e-3, 1e-2), (1e-5, 1e-4, 1e-3, 1e-2)),
    "signgd_wd": ("sign", "decoupled", "linf", (3e-5, 1e-4, 3e-4, 1e-3), (0.1, 0.3, 1.0, 3.0)),
    "signgd_l2": ("sign", "coupled", "linf", (3e-5, 1e-4, 3e-4, 1e-3), (1e-5, 1e-4, 1e-3, 1e-2)),
    "lion": ("lion", "decoupled", "linf", (3e-5, 1e-4, 3e-4, 1e-3), (0.1, 0.3, 1.0, 3.0)),
    "lion_l2": ("lion", "coupled", "linf", (3e-5, 1e-4, 3e-4, 1e-3), (1e-5, 1e-4, 1e-3, 1e-2)),
    "sgdw": ("sgd", "decoupled", "l2", (3e-3, 1e-2, 3e-2, 1e-1), (0.01, 0.03, 0.1, 0.3)),
    "sgd_l2": ("sgd", "coupled", "l2", (3e-3, 1e-2, 3e-2, 1e-1), (1e-5, 1e-4, 1e-3, 1e-2)),
}
THEOREM_SCHEDULES = {"inverse_sqrt"}
STEPS_PER_EPOCH = {"quadratic": 1, "lm": 50, "image": 390}  # full batch on the quadratic


def synthetic_records(tasks: Sequence[str] = ("quadratic", "wikitext", "cifar10"),
                      optimizers: Sequence[str] = ("adamw", "adam_l2", "signgd_wd", "lion"),
                      seeds: Sequence[int] = (0, 1), grid: int = 4, evals: int = 20,
                      budget: str = "cpu", missing: float = 0.0, failed: int = 1,
                      all_diverged: Sequence[str] = (), names: dict[str, str] | None = None,
                      rng_seed: int = 0) -> list[dict[str, Any]]:
    """Records for every (task, optimizer, lr, weight_decay, seed) of the grid.

    grid: lr and weight-decay values per optimizer (up to 4 from the table above, more are
    extrapolated); missing: share of trials left out at random (an unfinished sweep);
    failed: trials turned into 'failed' records; all_diverged: optimizers whose every trial
    diverged; names: rename optimizers in the records (e.g. to test escaping).
    """
    rng = random.Random(rng_seed)
    names = names or {}
    records = []
    for task_name in tasks:
        task = TASKS[task_name]
        for opt in optimizers:
            direction, style, norm, lrs, wds = OPTIMIZERS[opt]
            for i_lr, lr in enumerate(_extend(lrs, grid)):
                for i_wd, wd in enumerate(_extend(wds, grid)):
                    for seed in seeds:
                        if missing and rng.random() < missing:
                            continue
                        diverge = opt in all_diverged or _diverges(opt, i_lr, i_wd, grid)
                        records.append(_record(task, names.get(opt, opt), direction, style,
                                               norm, lr, wd, i_lr, i_wd, grid, seed, budget,
                                               diverge, evals, rng))
    for record in rng.sample(records, min(failed, len(records))):
        _make_failed(record)
    return records


def write_synthetic_ledger(root: str | Path, **kwargs: Any) -> list[dict[str, Any]]:
    """Write `synthetic_records(**kwargs)` as a results directory; returns the records."""
    ledger = Ledger(root)
    records = synthetic_records(**kwargs)
    for record in records:
        ledger.write(record)
    return records


def _extend(values: Sequence[float], n: int) -> list[float]:
    """The first n grid values, continued with the same log step where n exceeds the table."""
    out = list(values[:n])
    while len(out) < n:
        out.append(out[-1] * values[-1] / values[-2])
    return out


def _diverges(opt: str, i_lr: int, i_wd: int, grid: int) -> bool:
    # The largest lr with the smallest decay blows up for the sign-based methods.
    return opt in ("lion", "signgd_wd", "lion_l2") and i_lr == grid - 1 and i_wd == 0


def _record(task: SynthTask, opt: str, direction: str, style: str, norm: str, lr: float,
            wd: float, i_lr: int, i_wd: int, grid: int, seed: int, budget: str,
            diverged: bool, evals: int, rng: random.Random) -> dict[str, Any]:
    trial = Trial(task=task.name, optimizer=opt, lr=lr, weight_decay=wd, schedule=task.schedule,
                  seed=seed, budget=budget, steps=task.steps)
    decoupled = style in ("decoupled", "independent")
    radius = 1.0 / wd if decoupled and wd > 0 else None
    # Distance from the optimum of the grid, in grid steps: decoupled optima sit at a fixed
    # weight decay, coupled ones on the diagonal (lr * wd constant), as in Loshchilov & Hutter.
    centre = (grid - 1) / 2
    d_lr = i_lr - centre + 0.3
    d_wd = (i_wd - centre) if decoupled else (i_wd + i_lr - 2 * centre)
    badness = 0.08 * d_lr ** 2 + 0.05 * d_wd ** 2 + (0.0 if decoupled else 0.04)
    noise = rng.gauss(0, 0.01)
    train_gap = {"quadratic": 0.0, "lm": 0.35, "image": 0.45}[task.kind]
    # Decoupled: the box binds when wd is large; coupled: weights sit outside 1/wd.
    end_ratio = (min(1.0, 0.55 + 0.2 * i_wd) - abs(rng.gauss(0, 0.002)) if decoupled
                 else 1.4 + 0.3 * i_wd + rng.gauss(0, 0.05))
    if decoupled and task.schedule not in THEOREM_SCHEDULES and i_lr == grid - 1:
        end_ratio = 1.0 + 0.02 + abs(rng.gauss(0, 0.01))  # large constant-ish steps overshoot
    steps = task.steps
    eval_steps = [max(1, round(steps * (k + 1) / evals)) for k in range(evals)]
    curve = []
    diverged_at = None
    if diverged:
        diverged_at = eval_steps[len(eval_steps) // 3] - 7
        eval_steps = [s for s in eval_steps if s < diverged_at]
    for step in eval_steps:
        frac = step / steps
        val = _val_loss(task, badness + noise) + 1.8 * math.exp(-5 * frac)
        linf_ratio = end_ratio * (1 - math.exp(-6 * frac))
        point = {"step": step, "train_loss": val - train_gap * frac,
                 "linf_ratio": linf_ratio, "linf_norm": linf_ratio / wd if wd > 0 else None,
                 "kkt_residual": math.exp(-4 * frac) * (1 + 0.05 * rng.random()),
                 "fw_gap_rel": 0.6 / math.sqrt(step) * (1 + 0.1 * rng.random()),
                 "boundary_frac": max(0.0, min(1.0, (end_ratio - 0.5) * frac)),
                 "l2_stationarity": (0.05 if not decoupled else 0.4) / math.sqrt(frac * 10 + 1)}
        point.update(_task_metrics(task, val, "val"))
        curve.append(point)
    record: dict[str, Any] = {
        "id": trial.id, "schema": SCHEMA_VERSION, "suite": task.name,
        "code_fingerprint": "5ca1ab1e0000+" + hashlib.sha256(opt.encode()).hexdigest()[:12],
        "config": trial.to_dict(),
        "status": "diverged" if diverged else "done",
        "optimizer": {"decay": style, "direction": direction, "norm": norm,
                      "radius": radius, "metric_radius": 1.0 / wd if wd > 0 else None,
                      "lr_max": lr},
        "schedule": {"name": task.schedule,
                     "schedule_theorem": task.schedule in THEOREM_SCHEDULES},
        "timescale": {"steps_per_epoch": STEPS_PER_EPOCH[task.kind]},
        "mask": {"policy": "matrices", "decayed": len(task.tensors), "undecayed": 3,
                 "decayed_numel": 1000 * len(task.tensors), "undecayed_numel": 64},
        "task": {"data_source": task.data_source, "data_fingerprint": task.data_fingerprint,
                 "n_params": 1000 * len(task.tensors) + 64, "options": {},
                 "selection_metric": "val_accuracy" if task.kind == "image" else "val_loss",
                 "selection_mode": "max" if task.kind == "image" else "min",
                 "headline_figure": "linf" if task.kind == "quadratic" else "heatmaps"},
        "timing": {"wall_s": steps * 0.01 * (1 + 0.1 * rng.random()), "step_s": 0.01,
                   "steps_done": diverged_at or steps},
        "env": {"wdbench": "0.1.0", "torch": "2.13.0+cpu", "cuda": None, "device": "cpu",
                "num_processes": 1, "git_rev": "77e4cec", "python": "3.11.2",
                "date": "2026-11-28T12:00:00+00:00"},
    }
    if task.kind == "lm":
        record["timing"]["tokens_per_s"] = 9000.0 * (1 + 0.05 * rng.random())
    if diverged:
        record["diverged_at"] = diverged_at
        last = curve[-1] if curve else {}
        record["final"] = {"train_loss": float("nan"), "val_loss": float("nan"),
                           "linf_ratio": last.get("linf_ratio")}
        record["best"] = {}
        record["per_tensor"] = {}
    else:
        last = curve[-1]
        final = {k: v for k, v in last.items() if k != "step"}
        final.update(_task_metrics(task, last["val_loss"] + 0.01 * rng.random(), "test"))
        final["violation"] = max(0.0, final["linf_ratio"] - 1)
        final["gap"] = final["val_loss"] - final["train_loss"]  # as the runner records it
        if task.kind == "quadratic":
            final["dist_box"] = (0.01 if decoupled else 0.6) * (1 + rng.random())
            final["dist_l2"] = (0.5 if decoupled else 0.002) * (1 + rng.random())
        if task.kind == "image":
            final["train_accuracy"] = min(1.0, final["val_accuracy"] + 0.08)
        record["final"] = final
        record["best"] = {"val_loss": min(p["val_loss"] for p in curve),
                          "val_loss_step": min(curve, key=lambda p: p["val_loss"])["step"]}
        record["per_tensor"] = {
            name: {"linf_ratio": final["linf_ratio"] * (1 - 0.07 * i),
                   "fw_gap_rel": final["fw_gap_rel"] * (1 + i),
                   "boundary_frac": final["boundary_frac"] / (1 + i)}
            for i, name in enumerate(task.tensors)}
    record["curve"] = curve
    if task.target is not None:
        metric, mode = record["task"]["selection_metric"], record["task"]["selection_mode"]
        clock = [p["step"] * record["timing"]["step_s"] for p in curve]
        found = to_target(curve, metric, task.target, mode, clock=clock)
        reached = math.isfinite(found["steps_to_target"])
        record["target"] = {"metric": metric, "value": task.target, "reached": reached,
                            "steps_to_target": found["steps_to_target"]}
        record["timing"]["eval_train_s"] = clock
        record["timing"]["time_to_target_s"] = found["time_to_target_s"]
    return record


def _val_loss(task: SynthTask, badness: float) -> float:
    base = {"quadratic": 0.2, "lm": 4.6, "image": 0.9}[task.kind]
    return base + max(badness, -0.05)


def _task_metrics(task: SynthTask, loss: float, split: str) -> dict[str, float]:
    out = {f"{split}_loss": loss}
    if task.kind == "lm":
        out[f"{split}_perplexity"] = math.exp(loss)
    if task.kind == "image":
        out[f"{split}_accuracy"] = max(0.1, min(0.99, 1.15 - 0.33 * loss))
    return out


def _make_failed(record: dict[str, Any]) -> None:
    record["status"] = "failed"
    record["error"] = ("Traceback (most recent call last):\n  ...\n"
                       "RuntimeError: synthetic failure <in optimizer step>")
    record["final"], record["best"], record["per_tensor"], record["curve"] = {}, {}, {}, []
