"""A trial's record, assembled here for a lone trial (bench/engine/runner.py) and for each member
of a stacked group (bench/engine/stacked/loop.py) alike, so that a member's record equals its
lone run's (bench/ledger/store.py documents the schema).

In order: `new_record` before the trial runs (identity, config, status `failed` until it
ends), `describe` once its context is built (optimizer, schedule, mask, timescale, task),
`finish` when it ended (status and final metrics), `complete` last (final, best, curve,
target, timings, environment, and a member's place in its group).
"""

from __future__ import annotations

import math
from typing import Any

from accelerate import Accelerator

from bench.engine import environment
from bench.engine.context import Progress, TrialContext
from bench.engine.evaluation import evaluate, probe_metrics, timescale_record
from bench.ledger.fingerprint import recorded
from bench.ledger.store import SCHEMA_VERSION
from bench.measures.scoring import to_target
from bench.trial import schedules
from bench.trial.config import Trial


def new_record(trial: Trial, suite: str | None) -> dict[str, Any]:
    """A record before the trial runs: identity, config, status `failed` until it ends."""
    return {"id": trial.id, "schema": SCHEMA_VERSION, "suite": suite,
            "code_fingerprint": recorded(trial.task, trial.optimizer),
            "config": trial.to_dict(), "status": "failed", "diverged_at": None, "error": None}


def describe(ctx: TrialContext) -> dict[str, Any]:
    """What the record says of the trial's setup once it is built."""
    trial, spec = ctx.trial, ctx.spec
    n_params = sum(p.numel() for p in ctx.accelerator.unwrap_model(ctx.model).parameters())
    return {
        "optimizer": {"decay": ctx.decay_style.value, "direction": spec.direction,
                      "norm": spec.norm, "radius": ctx.radius,
                      "metric_radius": ctx.metric_radius, "lr_max": trial.lr,
                      "source": spec.source},
        "schedule": {"name": trial.schedule,
                     "schedule_theorem": schedules.get(trial.schedule).schedule_theorem},
        "mask": ctx.mask_info,
        "timescale": timescale_record(ctx),
        "task": {**ctx.task.describe(), "n_params": n_params, "steps": ctx.steps,
                 "batch_size": ctx.task.budget.batch_size, "eval_every": ctx.eval_every,
                 "selection_metric": ctx.task.selection_metric,
                 "selection_mode": ctx.task.selection_mode,
                 "headline_figure": ctx.task.headline_figure},
    }


def finish(record: dict[str, Any], ctx: TrialContext, prog: Progress, status: str,
           diverged_at: int | None) -> dict[str, Any]:
    """Status, and the final metrics of a trial that ended (test split and per-tensor
    metrics only when it finished); returns `final`."""
    record["status"], record["diverged_at"] = status, diverged_at
    if status == "done":
        final = dict(prog.curve[-1])
        final.update(evaluate(ctx, "test"))
        record["per_tensor"] = probe_metrics(ctx, prog, per_tensor=True)[1]
    else:
        final = last_point(prog)
        final["train_loss"] = math.nan
    return final


def last_point(prog: Progress) -> dict[str, Any]:
    """The final metrics of a trial that failed: its last curve point, if any."""
    return dict(prog.curve[-1]) if prog.curve else {}


def complete(record: dict[str, Any], ctx: TrialContext | None, prog: Progress,
             final: dict[str, Any], wall_s: float, accelerator: Accelerator,
             stacked: dict[str, Any] | None = None) -> None:
    """Final, best, curve, target, timings (`wall_s`: this process's seconds), the
    environment, and with `stacked` ({group, size, index}) a member's place in its group."""
    final.pop("step", None)
    record["final"] = final
    if "val_loss" in final and "train_loss" in final:
        final["gap"] = final["val_loss"] - final["train_loss"]
    record["best"] = prog.best
    record["kkt_start"] = prog.kkt_start
    record["curve"] = prog.curve
    target, time_to_target = _to_target(ctx, prog) if ctx is not None else (None, None)
    record["target"] = target
    if ctx is not None and ctx.trackers is not None:
        ctx.trackers.finish()
    record["timing"] = {
        # + earlier processes' (resumed from a checkpoint)
        "wall_s": wall_s + prog.wall_s,
        "steps_done": prog.step,
        "step_s": prog.train_time / max(prog.step, 1),
        "eval_s": prog.eval_time,
        "eval_train_s": prog.eval_clock,  # training seconds at each curve point
        "time_to_target_s": time_to_target,
    }
    record["env"] = environment.stamp(accelerator.device, accelerator.num_processes)
    if stacked is not None:
        record["stacked"] = stacked


def _to_target(ctx: TrialContext, prog: Progress) -> tuple[dict[str, Any] | None, float | None]:
    """The record's target (metric, value, reached, steps_to_target) and the training seconds
    to it (kept with the timings: they differ between identical runs), or (None, None) where
    the budget declares no target."""
    task = ctx.task
    target = task.targets.get(ctx.trial.budget)
    if target is None:
        return None, None
    found = to_target(prog.curve, task.selection_metric, target, task.selection_mode,
                      clock=prog.eval_clock)
    return ({"metric": task.selection_metric, "value": target,
             "reached": math.isfinite(found["steps_to_target"]),
             "steps_to_target": found["steps_to_target"]}, found["time_to_target_s"])
