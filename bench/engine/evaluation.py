"""What a trial measures at an evaluation point: exact split metrics under DDP and the SPEC §3
constraint metrics on the fixed probe gradient, each tensor also in its own geometry's ball;
`evaluate_now` adds them as a curve point to the trial's progress. The lone loop
(bench/engine/runner.py) and a stacked group's (bench/engine/stacked/loop.py) both call it;
these read the trial's context and never step it."""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch.utils.data import DataLoader

from bench.engine.context import Progress, TrialContext
from bench.measures import geometry, grad_ratio, kkt, metrics, timescale
from optimizers.decay import implied_radius


def evaluate_now(ctx: TrialContext, prog: Progress) -> None:
    """The curve point at `prog.step` (validation split, probe-gradient constraint metrics,
    rotation, the task's extras), its best values, and the seconds it took."""
    t0 = time.perf_counter()
    split = evaluate(ctx, "val")
    constraint, _ = probe_metrics(ctx, prog)
    constraint.update(rotation_metrics(ctx, prog.step))
    _add_point(ctx, prog, split, constraint)
    prog.eval_time += time.perf_counter() - t0


def _add_point(ctx: TrialContext, prog: Progress, split_metrics: dict[str, float],
               constraint: dict[str, float]) -> dict[str, Any]:
    acc = ctx.accelerator
    train_loss = torch.tensor([prog.loss_sum, float(prog.loss_count)], device=acc.device)
    train_loss = acc.reduce(train_loss, reduction="sum")
    point: dict[str, Any] = {"step": prog.step,
                             "scheduled_lr": ctx.scheduler.get_last_lr()[0]}
    prog.eval_clock.append(prog.train_time)
    if train_loss[1] > 0:
        point["train_loss"] = (train_loss[0] / train_loss[1]).item()
    point.update(split_metrics)
    point.update(constraint)
    point.update(ctx.task.extra_metrics(acc.unwrap_model(ctx.model), ctx.trial.weight_decay,
                                        current_radius(ctx)))
    prog.loss_sum, prog.loss_count = 0.0, 0
    prog.curve.append(point)
    if ctx.trackers is not None:
        ctx.trackers.log(point)
    for key, value in point.items():
        if not key.startswith(("val_", "train_")) or not math.isfinite(value):
            continue
        better = max if key.endswith("accuracy") else min
        if key not in prog.best or better(value, prog.best[key]) != prog.best[key]:
            prog.best[key] = value
            prog.best[f"{key}_step"] = prog.step
    return point


def evaluate(ctx: TrialContext, split: str) -> dict[str, float]:
    """Exact metrics of a split under DDP: per-example outputs gathered, duplicates dropped."""
    acc, task = ctx.accelerator, ctx.task
    loader = DataLoader(task.eval_dataset(split),
                        batch_size=max(task.budget.eval_batch_size // acc.num_processes, 1),
                        shuffle=False, collate_fn=task.collate)
    loader = acc.prepare_data_loader(loader)
    ctx.model.eval()
    parts: dict[str, list[torch.Tensor]] = {}
    with torch.no_grad(), acc.autocast():
        for batch in loader:
            out = acc.gather_for_metrics(task.eval_outputs(ctx.model, batch))
            for key, value in out.items():
                parts.setdefault(key, []).append(value.detach().float().cpu())
    ctx.model.train()
    return task.summarize(split, {k: torch.cat(v) for k, v in parts.items()})


def probe_metrics(ctx: TrialContext, prog: Progress, per_tensor: bool = False
                  ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """SPEC §3 metrics at the current point, on the mean gradient over the fixed probe batches.

    The probe at step 0 keeps the initial point's gap terms in `prog.kkt_start` (checkpointed
    with it); every probe's kkt_residual and ball_kkt_residual are shares of that gap
    (bench/measures/kkt.py). A trial resumed from a checkpoint without them records NaN.
    Runs on the unwrapped model (no DDP hooks: every process computes the same probe) and
    restores buffers such as BatchNorm running statistics, so training is unaffected."""
    model = ctx.accelerator.unwrap_model(ctx.model)
    buffers = {n: b.detach().clone() for n, b in model.named_buffers()}
    saved_grads = {n: p.grad for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    with torch.enable_grad():
        for batch in ctx.probe:
            with ctx.accelerator.autocast():
                loss = ctx.task.loss(model, batch) / len(ctx.probe)
            loss.backward()
    names = [n for n, p in ctx.decayed.items() if p.grad is not None]
    params = [ctx.decayed[n].detach() for n in names]
    grads = [ctx.decayed[n].grad.detach() for n in names]
    wd, radius = ctx.trial.weight_decay, current_radius(ctx)
    named_params, named_grads = dict(zip(names, params)), dict(zip(names, grads))
    geometries = ctx.mask_info["geometry"]
    if prog.kkt_start is None and prog.step == 0:
        prog.kkt_start = kkt.start_terms(named_params, named_grads, geometries)
    overall = metrics.constraint_metrics(params, grads, wd, radius=radius)
    overall["linf_norm"] = max((p.abs().max().item() for p in params), default=0.0)
    overall["radius_t"] = radius
    tensors = {}
    if per_tensor:
        tensors = metrics.per_tensor_metrics(named_params, named_grads, wd, radius=radius)
    # Radius 0 (`fixed` decay at η_t = 0, the end of a cosine) is the point 0: the ratios to
    # it and its gaps are undefined, NaN as without a box; radius_t says why.
    box = radius if radius else None
    if box is not None and names:  # each tensor in its own norm's ball
        ball, ball_tensors = geometry.geometry_record(geometries, named_params, named_grads,
                                                      box)
        overall.update(ball)
        for n in tensors:
            tensors[n].update(ball_tensors[n])
    kkt.attach(prog.kkt_start, box, geometries, names, overall, tensors)
    overall.update(grad_ratio.point(named_params, named_grads))  # per tensor ‖g‖/‖x‖ (AdamC)
    for n, p in model.named_parameters():
        p.grad = saved_grads[n]
    with torch.no_grad():
        for n, b in model.named_buffers():
            b.copy_(buffers[n])
    return overall, tensors


def current_radius(ctx: TrialContext) -> float | None:
    """The radius metrics are measured against at the current lr η_t: the record's
    metric_radius, except for the styles whose radius moves with η_t (fixed, corrected)."""
    moving = implied_radius(ctx.decay_style, ctx.trial.weight_decay,
                            ctx.scheduler.get_last_lr()[0], ctx.trial.lr)
    return moving if moving is not None else ctx.metric_radius


def rotation_metrics(ctx: TrialContext, step: int) -> dict[str, object]:
    """Per-tensor weight norm and angular update at this evaluation point."""
    return ctx.rotation.measure(step) if ctx.rotation is not None else {}


def timescale_record(ctx: TrialContext) -> dict[str, float | None]:
    """The record's EMA timescale (bench/measures/timescale.py) at the peak lr."""
    return timescale.timescales(ctx.decay_style, ctx.trial.weight_decay, ctx.trial.lr,
                                ctx.task.steps_per_epoch())
