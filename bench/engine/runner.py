"""Run one Trial end to end on whatever Accelerate gives us (CPU, one GPU, DDP): the loop.

The runner knows no task and no optimizer in particular: it builds the trial's context
(bench/engine/context.py), trains it here, measures it at its evaluation points
(bench/engine/evaluation.py), checkpoints it (bench/engine/checkpoints.py) and writes the
record bench/engine/record.py assembles. A stacked group's loop (bench/engine/stacked/loop.py)
shares all of these but the loop itself.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType, send_to_device
from torch.utils.data import DataLoader

from bench.engine import environment, record
from bench.engine.checkpoints import Checkpointer
from bench.engine.context import OnStep, Progress, TrialContext, build
from bench.engine.divergence import Diverged, params_finite, watch_for
from bench.engine.evaluation import evaluate_now
from bench.engine.sampling import GlobalBatchSampler, batch_stream
from bench.ledger.store import Ledger
from bench.trial.config import Trial
from bench.trial.tracking import TrialTrackers

__all__ = ["build", "default_budget", "run_trial", "tasks_errors", "train"]


def default_budget() -> str:
    return "full" if torch.cuda.is_available() else "cpu"


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


def train(ctx: TrialContext, ledger: Ledger, show_progress: bool,
          on_step: OnStep | None = None) -> tuple[Progress, str, int | None]:
    """The training loop; returns progress, status ('done' | 'diverged') and the step of
    divergence. `on_step` after each step and before each evaluation (context.py::OnStep)."""
    acc, task, trial = ctx.accelerator, ctx.task, ctx.trial
    checkpointer = Checkpointer(ledger, ctx)
    prog = checkpointer.restore() or Progress()
    if prog.step == 0:
        _evaluate(ctx, prog, on_step)
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
                on_step(prog.step, ctx.steps, 0)
            if bar is not None:
                bar.update(1)
                if prog.step % 20 == 0:  # a sync, only in interactive runs
                    bar.set_postfix(loss=f"{step_loss.item():.4g}", refresh=False)
            evaluating = ctx.evaluates_at(prog.step)
            if evaluating or checkpointer.due(prog) or prog.step % watch.check_every == 0:
                [bad] = watch.diverged_at()
                if bad is not None:
                    raise Diverged(bad)
                [loss_sum], loss_count = watch.drain()
                prog.add_losses(loss_sum, loss_count)
            # After the read: on a GPU it waits for the queued steps, whose time belongs here.
            prog.train_time += time.perf_counter() - t0
            if evaluating:
                if not params_finite(ctx.model):
                    raise Diverged(prog.step)
                _evaluate(ctx, prog, on_step)
            checkpointer.maybe_save(prog)
    except Diverged as err:
        return prog, "diverged", err.step
    finally:
        if bar is not None:
            bar.close()
    checkpointer.clear()
    return prog, "done", None


def _evaluate(ctx: TrialContext, prog: Progress, on_step: OnStep | None) -> None:
    if on_step is not None:
        on_step(prog.step, ctx.steps, 0, (0, 1))
    evaluate_now(ctx, prog)


def run_trial(trial: Trial, out_dir: str | os.PathLike, data_dir: str | None = None,
              cache_dir: str | None = None, show_progress: bool = True,
              suite: str | None = None, accelerator: Accelerator | None = None,
              log_with: Sequence[str] = (),
              on_step: OnStep | None = None,
              still_claimed: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """Run (or resume) one trial and write its record; returns the record.

    Exceptions inside the task or optimizer mark the trial `failed` (traceback kept);
    non-finite losses or parameters mark it `diverged`. Only the main process writes, and
    only where `still_claimed(trial id)`, asked right before, says its claim was not lost
    (bench/executors/claimed.py: another sweep took the trial over and writes it).
    `log_with` names experiment trackers that also receive every evaluation point."""
    ledger = Ledger(out_dir)
    acc = accelerator or Accelerator(mixed_precision=trial.mixed_precision)
    started = time.perf_counter()
    rec = record.new_record(trial, suite)
    prog = Progress()
    ctx = None
    final: dict[str, Any] = {}
    with environment.pinned_threads():
        try:
            ctx = build(trial, acc, data_dir, cache_dir)
            rec.update(record.describe(ctx))
            if log_with and acc.is_main_process:
                ctx.trackers = TrialTrackers(log_with, out_dir, trial.id, suite,
                                             trial.to_dict())
            prog, status, diverged_at = train(ctx, ledger, show_progress, on_step)
            if on_step is not None and status == "done":  # the test split's evaluation
                on_step(prog.step, ctx.steps, 0, (0, 1))
            final = record.finish(rec, ctx, prog, status, diverged_at)
        except tasks_errors():
            raise
        except BaseException:  # SystemExit from an optimizer's step() too: the trial failed
            rec["error"] = traceback.format_exc()
            final = record.last_point(prog)
        record.complete(rec, ctx, prog, final, time.perf_counter() - started, acc)
    if acc.is_main_process and (still_claimed is None or still_claimed(trial.id)):
        ledger.write(rec)
    acc.wait_for_everyone()
    return rec


def tasks_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the user's to fix (bad data dir, no hub): never a `failed` trial."""
    from bench.errors import TrialInterrupted
    from tasks.data import DataUnavailable

    return (DataUnavailable, KeyboardInterrupt, TrialInterrupted)
