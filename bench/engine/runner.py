"""Run one Trial end to end on whatever Accelerate gives us (CPU, one GPU, DDP).

The runner knows no task and no optimizer in particular: it asks the task for a model, data,
losses and evaluation outputs, the optimizer registry for an optimizer, `bench.measures.metrics` for
constraint metrics, and writes one record to the ledger.
"""

from __future__ import annotations

import math
import os
import shutil
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType, send_to_device, set_seed
from torch.utils.data import DataLoader

import optimizers
import tasks
from bench.engine import checkpoint_files as files
from bench.engine import environment, evaluation
from bench.engine.divergence import Diverged, params_finite, watch_for
from bench.engine.evaluation import current_radius, evaluate, probe_metrics
from bench.engine.param_groups import decay_setup
from bench.engine.sampling import GlobalBatchSampler, batch_stream
from bench.ledger import paths
from bench.ledger.fingerprint import recorded
from bench.ledger.store import SCHEMA_VERSION, Ledger
from bench.measures.scoring import to_target
from bench.trial import schedules
from bench.trial.config import Trial
from bench.trial.tracking import TrialTrackers
from optimizers.decay import DecayStyle
from tasks.base import Task

TRIAL_THREADS = 1  # intra-op threads of every trial, whatever the sweep's worker count


def default_budget() -> str:
    return "full" if torch.cuda.is_available() else "cpu"


@dataclass
class Progress:
    """Everything about a running trial that a checkpoint carries besides tensor state."""

    step: int = 0
    curve: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)
    train_time: float = 0.0
    eval_time: float = 0.0
    loss_sum: float = 0.0
    loss_count: int = 0
    eval_clock: list[float] = field(default_factory=list)  # train_time at each curve point
    # Wall seconds of earlier processes up to the checkpoint this one resumed from, plus
    # this process's, as of the last checkpoint: a resumed trial's wall_s counts them all.
    wall_s: float = 0.0
    started: float = field(default_factory=time.perf_counter, repr=False)


@dataclass
class TrialContext:
    trial: Trial
    task: Task
    spec: optimizers.OptimizerSpec
    accelerator: Accelerator
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    decayed: dict[str, torch.nn.Parameter]
    decay_style: DecayStyle
    mask_info: dict[str, Any]
    steps: int
    eval_every: int
    radius: float | None  # implied by the decay style (None: no box predicted)
    metric_radius: float | None  # what linf_ratio is measured against (1/wd for coupled)
    probe: list[Any]
    trackers: TrialTrackers | None = None  # experiment trackers (main process only)
    rotation: Any = None  # bench.measures.rotation.RotationWatch: W_{t-1} for evaluation steps


def build(trial: Trial, accelerator: Accelerator, data_dir: str | None = None,
          cache_dir: str | None = None) -> TrialContext:
    task = tasks.create(trial.task, trial.budget, dict(trial.task_options), data_dir=data_dir,
                        cache_dir=cache_dir)
    spec = optimizers.spec(trial.optimizer)
    set_seed(trial.seed)
    model = task.build_model(trial.seed)
    mask = task.decay_mask(model, trial.mask or task.default_mask)
    setup = decay_setup(trial, task, spec, model, mask)
    optimizer = setup.optimizer
    if trial.compile:
        model.compile()  # in place: names, state_dict keys and unwrap_model stay the same
    steps = trial.steps or task.budget.steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, schedules.multiplier(trial.schedule, steps, trial.warmup))
    model = accelerator.prepare(model)
    if trial.mixed_precision == "fp16":
        # Only fp16 needs Accelerate's optimizer wrapper (loss scaling); elsewhere it costs
        # ~0.5 ms a step in bookkeeping, more than a whole step of the small tasks.
        optimizer = accelerator.prepare(optimizer)
    probe = [send_to_device(b, accelerator.device) for b in task.probe_batches()]
    ctx = TrialContext(trial, task, spec, accelerator, model, optimizer, scheduler,
                       setup.decayed, setup.style, setup.mask_info, steps,
                       trial.eval_every or task.budget.eval_every, setup.radius,
                       setup.metric_radius, probe)
    ctx.rotation = evaluation.watch_rotation(ctx)
    return ctx


def _train_batches(ctx: TrialContext, start_step: int) -> Iterator[Any]:
    acc, trial = ctx.accelerator, ctx.trial
    dataset = ctx.task.train_dataset()
    micro = ctx.task.budget.batch_size // trial.grad_accum
    sampler = GlobalBatchSampler(len(dataset), micro, trial.seed, ctx.steps * trial.grad_accum,
                                 acc.process_index, acc.num_processes,
                                 start_step * trial.grad_accum)
    if acc.device.type == "cuda":
        # Pinned host memory lets send_to_device copy without blocking the host.
        return iter(DataLoader(dataset, batch_sampler=sampler, collate_fn=ctx.task.collate,
                               pin_memory=True))
    return batch_stream(dataset, sampler, ctx.task.collate)  # DataLoader's batches, less Python


def _backward(acc: Accelerator) -> Callable[[torch.Tensor], None]:
    """Accelerate's backward, or plain autograd where that is all it would do: without loss
    scaling, DeepSpeed or Megatron and with no accumulation of its own, `acc.backward` is
    `(loss / 1).backward()`, one more autograd node a step (~7 µs on the tiny tasks)."""
    plain = (acc.scaler is None and acc.gradient_accumulation_steps == 1
             and acc.distributed_type not in (DistributedType.DEEPSPEED,
                                              DistributedType.MEGATRON_LM))
    return torch.Tensor.backward if plain else acc.backward


def _record_eval(ctx: TrialContext, prog: Progress, split_metrics: dict[str, float],
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


def swap_in(incoming: Path, latest: Path) -> None:
    """Make the finished checkpoint `incoming` the `latest` one: a kill at any moment leaves
    either the old or the new checkpoint whole (the previous one waits as `old` meanwhile)."""
    old = latest.parent / "old"
    shutil.rmtree(old, ignore_errors=True)
    if latest.exists():
        os.replace(latest, old)
    os.replace(incoming, latest)
    shutil.rmtree(old, ignore_errors=True)


class Checkpointer:
    """Mid-trial checkpoints under <out>/checkpoints/<id>/latest (atomic swap), in files that
    hold no code (bench/engine/checkpoint_files.py): a results directory is input."""

    def __init__(self, ledger: Ledger, ctx: TrialContext) -> None:
        self.root = ledger.root
        self.dir = ledger.checkpoint_dir(ctx.trial.id)
        self.every = ctx.trial.checkpoint_every
        self.ctx = ctx

    def _unlink_planted(self) -> None:
        """Never follow a symbolic link planted on the way to this trial's folders: it would
        read, write and delete outside the output directory (bench/ledger/paths.py)."""
        for name in ("latest", "incoming", "old"):
            paths.unlink_planted(self.root, self.dir / name)

    @property
    def latest(self) -> Path:
        return self.dir / "latest"

    def restore(self) -> Progress | None:
        """Progress of the latest checkpoint, its state loaded into the trial; None where
        there is none, or where one of its files does not load safely (the trial starts
        over, with a warning naming the file)."""
        acc = self.ctx.accelerator
        if not self.every:
            return None
        if acc.is_main_process:
            self._unlink_planted()
        acc.wait_for_everyone()
        if not self.latest.exists():
            return None
        try:
            state, problem = self._read(), None
        except files.UnsafeCheckpoint as err:
            state, problem = None, err
        if acc.num_processes > 1:  # every process resumes, or none does
            loaded = torch.tensor([float(problem is None)], device=acc.device)
            if acc.reduce(loaded, reduction="sum").item() < acc.num_processes:
                state = None
        if state is None:
            if problem is not None and acc.is_main_process:
                files.warn_start_over(problem)
            return None
        ctx = self.ctx
        acc.unwrap_model(ctx.model).load_state_dict(state["model"])
        ctx.optimizer.load_state_dict(state["optimizer"])
        ctx.scheduler.load_state_dict(state["scheduler"])
        if acc.scaler is not None:
            acc.scaler.load_state_dict(state["scaler"])
        files.set_rng_state(state["rng"])
        return state["progress"]

    def _read(self) -> dict[str, Any]:
        """Every file of the latest checkpoint, read and checked, nothing applied yet."""
        latest, acc = self.latest, self.ctx.accelerator
        state = {name: files.load_tensors(latest / f"{name}.pt")
                 for name in ("model", "optimizer", "scheduler")}
        if acc.scaler is not None:
            state["scaler"] = files.load_tensors(latest / "scaler.pt")
        state["rng"] = files.load_tensors(latest / f"rng_{acc.process_index}.pt")
        saved = files.load_json(latest / "progress.json")
        try:
            saved.pop("started", None)
            state["progress"] = Progress(**saved)
        except (AttributeError, TypeError) as err:
            raise files.UnsafeCheckpoint(latest / "progress.json", str(err)) from None
        return state

    def due(self, prog: Progress) -> bool:
        return bool(self.every) and prog.step % self.every == 0 and prog.step < self.ctx.steps

    def maybe_save(self, prog: Progress) -> None:
        if not self.due(prog):
            return
        acc, ctx = self.ctx.accelerator, self.ctx
        tmp = self.dir / "incoming"
        if acc.is_main_process:
            self._unlink_planted()
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        acc.wait_for_everyone()
        files.save_tensors(files.rng_state(), tmp / f"rng_{acc.process_index}.pt")
        if acc.is_main_process:
            files.save_tensors(acc.unwrap_model(ctx.model).state_dict(), tmp / "model.pt")
            files.save_tensors(ctx.optimizer.state_dict(), tmp / "optimizer.pt")
            files.save_tensors(ctx.scheduler.state_dict(), tmp / "scheduler.pt")
            if acc.scaler is not None:
                files.save_tensors(acc.scaler.state_dict(), tmp / "scaler.pt")
        acc.wait_for_everyone()
        if acc.is_main_process:
            state = {k: v for k, v in prog.__dict__.items() if k != "started"}
            state["wall_s"] = prog.wall_s + time.perf_counter() - prog.started
            files.save_json(state, tmp / "progress.json")
            swap_in(tmp, self.latest)
        acc.wait_for_everyone()

    def clear(self) -> None:
        if self.ctx.accelerator.is_main_process:
            paths.unlink_planted(self.root, self.dir)
            shutil.rmtree(self.dir, ignore_errors=True)


def train(ctx: TrialContext, ledger: Ledger, show_progress: bool,
          on_step: Callable[[int], None] | None = None) -> tuple[Progress, str, int | None]:
    """The training loop; returns progress, status ('done' | 'diverged') and the step of
    divergence. `on_step(step)` after each step (a sweep's claim heartbeat reads it)."""
    acc, task, trial = ctx.accelerator, ctx.task, ctx.trial
    checkpointer = Checkpointer(ledger, ctx)
    prog = checkpointer.restore() or Progress()
    if prog.step == 0:
        _evaluate_now(ctx, prog)
    batches = _train_batches(ctx, prog.step)
    bar = None
    if show_progress and acc.is_main_process:
        from tqdm.auto import tqdm

        bar = tqdm(total=ctx.steps, initial=prog.step, desc=f"{trial.optimizer} {trial.id}",
                   leave=False, dynamic_ncols=True)
    ctx.model.train()
    # Loss and divergence stay on the device, read every check_every steps
    # (bench/engine/divergence.py)
    watch = watch_for(acc.device)
    backward = _backward(acc)
    # Without native AMP (bf16), acc.autocast() enters a nullcontext, at ~10 µs a step.
    autocast = acc.autocast if acc.native_amp else nullcontext
    accum = trial.grad_accum
    try:
        while prog.step < ctx.steps:
            t0 = time.perf_counter()
            step_loss = None
            for micro in range(accum):
                batch = send_to_device(next(batches), acc.device, non_blocking=True)
                sync = micro == accum - 1
                with (nullcontext() if sync else acc.no_sync(ctx.model)), autocast():
                    loss = task.loss(ctx.model, batch)
                    if accum > 1:  # x / 1 == x: the division only costs an autograd node
                        loss = loss / accum
                    backward(loss)
                # 0 + l == l: one micro-batch's loss needs no running sum.
                part = loss.detach().float()
                step_loss = part if step_loss is None else step_loss + part
            if acc.num_processes > 1:
                step_loss = acc.reduce(step_loss, reduction="mean")
            watch.add(prog.step + 1, step_loss)
            ctx.optimizer.step()
            ctx.scheduler.step()
            ctx.optimizer.zero_grad(set_to_none=True)
            prog.step += 1
            if on_step is not None:
                on_step(prog.step)
            if bar is not None:
                bar.update(1)
                if prog.step % 20 == 0:  # a sync, only in interactive runs
                    bar.set_postfix(loss=f"{step_loss.item():.4g}", refresh=False)
            evaluating = prog.step % ctx.eval_every == 0 or prog.step == ctx.steps
            if evaluating or checkpointer.due(prog) or prog.step % watch.check_every == 0:
                bad = watch.diverged_at()
                if bad is not None:
                    raise Diverged(bad)
                loss_sum, loss_count = watch.drain()
                prog.loss_sum += loss_sum
                prog.loss_count += loss_count
            # After the read: on a GPU it waits for the queued steps, whose time belongs here.
            prog.train_time += time.perf_counter() - t0
            if evaluating:
                if not params_finite(ctx.model):
                    raise Diverged(prog.step)
                _evaluate_now(ctx, prog)
            checkpointer.maybe_save(prog)
    except Diverged as err:
        return prog, "diverged", err.step
    finally:
        if bar is not None:
            bar.close()
    checkpointer.clear()
    return prog, "done", None


def _evaluate_now(ctx: TrialContext, prog: Progress) -> None:
    t0 = time.perf_counter()
    split = evaluate(ctx, "val")
    constraint, _ = probe_metrics(ctx)
    constraint.update(evaluation.rotation_metrics(ctx, prog.step))
    _record_eval(ctx, prog, split, constraint)
    prog.eval_time += time.perf_counter() - t0


def run_trial(trial: Trial, out_dir: str | os.PathLike, data_dir: str | None = None,
              cache_dir: str | None = None, show_progress: bool = True,
              suite: str | None = None, accelerator: Accelerator | None = None,
              log_with: Sequence[str] = (),
              on_step: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run (or resume) one trial and write its record; returns the record.

    Exceptions inside the task or optimizer mark the trial `failed` (traceback kept);
    non-finite losses or parameters mark it `diverged`. Only the main process writes.
    `log_with` names experiment trackers that also receive every evaluation point."""
    ledger = Ledger(out_dir)
    acc = accelerator or Accelerator(mixed_precision=trial.mixed_precision)
    started = time.perf_counter()
    record = new_record(trial, suite)
    prog = Progress()
    ctx = None
    final: dict[str, Any] = {}
    # A fixed intra-op thread count: reductions, hence results, must not depend on how many
    # trials a sweep runs side by side (`--workers`).
    threads_before = torch.get_num_threads()
    torch.set_num_threads(TRIAL_THREADS)
    try:
        ctx = build(trial, acc, data_dir, cache_dir)
        record.update(_describe(ctx))
        if log_with and acc.is_main_process:
            ctx.trackers = TrialTrackers(log_with, out_dir, trial.id, suite, trial.to_dict())
        prog, status, diverged_at = train(ctx, ledger, show_progress, on_step)
        final = finish(record, ctx, prog, status, diverged_at)
    except tasks_errors():
        raise
    except BaseException:  # SystemExit from an optimizer's step() too: the trial failed
        record["error"] = traceback.format_exc()
        final = dict(prog.curve[-1]) if prog.curve else {}
    complete(record, ctx, prog, final, time.perf_counter() - started)
    torch.set_num_threads(threads_before)
    record["env"] = {**environment.describe(acc.device, acc.num_processes),
                     "threads": TRIAL_THREADS}
    if acc.is_main_process:
        ledger.write(record)
    acc.wait_for_everyone()
    return record


# --- record assembly: shared by run_trial and a stacked group's members (bench/engine/stacked) ---
def new_record(trial: Trial, suite: str | None) -> dict[str, Any]:
    """A record before the trial runs: identity, config, status `failed` until it ends."""
    return {"id": trial.id, "schema": SCHEMA_VERSION, "suite": suite,
            "code_fingerprint": recorded(trial.task, trial.optimizer),
            "config": trial.to_dict(), "status": "failed", "diverged_at": None, "error": None}


def finish(record: dict[str, Any], ctx: TrialContext, prog: Progress, status: str,
           diverged_at: int | None) -> dict[str, Any]:
    """Status, and the final metrics of a trial that ended (test split and per-tensor
    metrics only when it finished); returns `final`."""
    record["status"], record["diverged_at"] = status, diverged_at
    if status == "done":
        final = dict(prog.curve[-1])
        final.update(evaluate(ctx, "test"))
        record["per_tensor"] = probe_metrics(ctx, per_tensor=True)[1]
    else:
        final = dict(prog.curve[-1]) if prog.curve else {}
        final["train_loss"] = math.nan
    return final


def complete(record: dict[str, Any], ctx: TrialContext | None, prog: Progress,
             final: dict[str, Any], wall_s: float) -> None:
    """Final, best, curve, target and timings (`wall_s`: this process's seconds)."""
    final.pop("step", None)
    record["final"] = final
    if "val_loss" in final and "train_loss" in final:
        final["gap"] = final["val_loss"] - final["train_loss"]
    record["best"] = prog.best
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


def tasks_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the user's to fix (bad data dir, no hub): never a `failed` trial."""
    from bench.errors import TrialInterrupted
    from tasks.data import DataUnavailable

    return (DataUnavailable, KeyboardInterrupt, TrialInterrupted)


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


def _describe(ctx: TrialContext) -> dict[str, Any]:
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
        "timescale": evaluation.timescale_record(ctx),
        "task": {**ctx.task.describe(), "n_params": n_params, "steps": ctx.steps,
                 "batch_size": ctx.task.budget.batch_size, "eval_every": ctx.eval_every,
                 "selection_metric": ctx.task.selection_metric,
                 "selection_mode": ctx.task.selection_mode,
                 "headline_figure": ctx.task.headline_figure},
    }
