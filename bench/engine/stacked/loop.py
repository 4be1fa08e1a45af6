"""Train a stacked group: T trials in one process, one tensor op per step for all of them.

Per member, exactly as bench/engine/runner.py's `train` does alone: its own init (seed), its own
data
order (its own GlobalBatchSampler; batches gathered per member, then stacked), its schedule
value, divergence detection at its exact step (then it is frozen and the others go on), its
evaluation points through bench/engine/evaluation.py on its member module, and its record through
the
runner's record assembly (`new_record`, `finish`, `complete`), plus `stacked`: {group, size,
index}. A member's timings are its share: the group's training seconds of a step divided
among the members still training, its own evaluation seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import send_to_device, set_seed

import tasks
from bench.engine import environment
from bench.engine.divergence import params_finite
from bench.engine.runner import (
    TRIAL_THREADS,
    Progress,
    TrialContext,
    _describe,
    _evaluate_now,
    complete,
    finish,
    new_record,
)
from bench.engine.stacked.batches import GroupBatches
from bench.engine.stacked.checkpoint import GroupCheckpointer
from bench.engine.stacked.members import StackedWatch, device_probe, member_context
from bench.executors.plan import Group
from bench.ledger.store import Ledger
from bench.trial import schedules
from bench.trial.config import Trial


@dataclass
class Member:
    trial: Trial
    ctx: TrialContext
    record: dict[str, Any]
    prog: Progress = field(default_factory=Progress)
    status: str | None = None  # None: training; 'done' | 'diverged'
    diverged_at: int | None = None


def run_group(group: Group, out_dir: str, data_dir: str | None = None,
              cache_dir: str | None = None, suite: str | None = None,
              on_step: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Run (or resume) the group and write each member's record; returns the records.

    Raises NotStackable (bench/engine/stacked/models.py) before anything is written where the
    task's model cannot stack; any other exception leaves the members without records (the
    caller runs them one by one)."""
    threads_before = torch.get_num_threads()
    torch.set_num_threads(TRIAL_THREADS)  # as run_trial: results must not depend on it
    try:
        return _run(group, Ledger(out_dir), data_dir, cache_dir, suite, on_step)
    finally:
        torch.set_num_threads(threads_before)


def _build(group: Group, acc: Accelerator, data_dir: str | None, cache_dir: str | None,
           suite: str | None) -> tuple[Any, Any, list[Member], Callable[[int], float]]:
    from bench.engine.stacked.models import stack_models
    from optimizers.stacked import stacked_optimizer

    first = group.trials[0]
    task = tasks.create(first.task, first.budget, dict(first.task_options), data_dir=data_dir,
                        cache_dir=cache_dir)
    set_seed(first.seed)
    model = stack_models(task, [t.seed for t in group.trials], acc.device)
    mask = task.decay_mask(model.members[0], first.mask or task.default_mask)
    steps = first.steps or task.budget.steps
    multiplier = schedules.multiplier(first.schedule, steps, first.warmup)
    probe = device_probe(task, acc.device)
    members = []
    for trial, module in zip(group.trials, model.members):
        ctx = member_context(trial, task, acc, module, mask, probe, multiplier)
        members.append(Member(trial, ctx, {**new_record(trial, suite), **_describe(ctx)}))
    optimizer = stacked_optimizer(first.optimizer, model.params,
                                  {n: bool(mask.get(n)) for n in model.params},
                                  [t.lr for t in group.trials],
                                  [t.weight_decay for t in group.trials],
                                  dict(first.optimizer_options), members=model.members)
    return model, optimizer, members, multiplier


def _run(group: Group, ledger: Ledger, data_dir: str | None, cache_dir: str | None,
         suite: str | None, on_step: Callable[[int], None] | None) -> list[dict[str, Any]]:
    acc = Accelerator(mixed_precision="no")
    started = time.perf_counter()
    model, optimizer, members, multiplier = _build(group, acc, data_dir, cache_dir, suite)
    first = members[0].ctx
    steps, eval_every = first.steps, first.eval_every
    checkpointer = GroupCheckpointer(ledger, group, group.trials[0].checkpoint_every, steps)
    step = 0
    restored = checkpointer.restore(model.params, optimizer)
    if restored is not None:
        step, progs, statuses = restored
        for i, (m, prog, (status, at)) in enumerate(zip(members, progs, statuses)):
            m.prog, m.status, m.diverged_at = prog, status, at
            m.ctx.scheduler.last_epoch = step
            if status is not None:
                optimizer.freeze(i)
    else:
        for m in members:
            _evaluate_now(m.ctx, m.prog)
    optimizer.set_lr_multiplier(multiplier(step))
    batches = GroupBatches([m.ctx for m in members], step)
    watch = StackedWatch(len(members), acc.device)
    for m in members:
        m.ctx.model.train()
    active = [i for i, m in enumerate(members) if m.status is None]
    # Per-member bookkeeping is settled only when read (evaluations, divergences,
    # checkpoints, the end): a step costs the same for 64 members as for 2.
    base = {i: members[i].prog.train_time for i in active}
    shared = 0.0  # training seconds per member still training, since this process began

    def settle(i: int) -> None:
        m = members[i]
        m.prog.step = m.ctx.scheduler.last_epoch = step
        m.prog.train_time = base[i] + shared

    def diverge(i: int, at: int) -> None:
        settle(i)
        members[i].status, members[i].diverged_at = "diverged", at
        optimizer.freeze(i)
        active.remove(i)

    host = acc.device.type == "cpu"
    while step < steps and active:
        t0 = time.perf_counter()
        batch = next(batches)
        if not host:
            batch = send_to_device(batch, acc.device, non_blocking=True)
        losses = model.backward(batch)
        watch.add(step + 1, losses.detach().float())
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            for i in active:  # W_step: the next step is an evaluation point (rotation)
                members[i].ctx.rotation.before(step)
        optimizer.step()
        step += 1
        optimizer.set_lr_multiplier(multiplier(step))
        optimizer.zero_grad()
        if on_step is not None:
            on_step(step)
        training = len(active)
        evaluating = step % eval_every == 0 or step == steps
        due = checkpointer.due(step)
        if evaluating or due or step % watch.check_every == 0:
            bad = watch.diverged_at()
            sums, count = watch.drain()
            for i in list(active):
                if bad[i] is not None:
                    diverge(i, bad[i])
                else:
                    members[i].prog.loss_sum += sums[i]
                    members[i].prog.loss_count += count
        shared += (time.perf_counter() - t0) / training
        if evaluating:
            for i in list(active):
                settle(i)
                if not params_finite(members[i].ctx.model):
                    diverge(i, step)
                else:
                    _evaluate_now(members[i].ctx, members[i].prog)
        if due:
            for i in active:
                settle(i)
            checkpointer.save(step, model.params, optimizer, [m.prog for m in members],
                              [(m.status, m.diverged_at) for m in members],
                              (time.perf_counter() - started) / len(members))
    for i in active:
        settle(i)
    return _write_records(members, group, ledger, acc, started, model.mode)


def _write_records(members: Sequence[Member], group: Group, ledger: Ledger, acc: Accelerator,
                   started: float, mode: str) -> list[dict[str, Any]]:
    out = []
    for i, m in enumerate(members):
        final = finish(m.record, m.ctx, m.prog, m.status or "done", m.diverged_at)
        complete(m.record, m.ctx, m.prog, final,
                 (time.perf_counter() - started) / len(members))
        m.record["env"] = {**environment.describe(acc.device, acc.num_processes),
                           "threads": TRIAL_THREADS}
        m.record["stacked"] = {"group": group.id, "size": group.size, "index": i, "mode": mode}
        out.append(m.record)
    for record in out:  # all at once, after every member's final evaluation
        ledger.write(record)
    GroupCheckpointer(ledger, group, None, 0).clear()
    return out
