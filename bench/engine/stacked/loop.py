"""Train a stacked group: T trials in one process, one tensor op per step for all of them.

Per member, exactly as bench/engine/runner.py's `train` does alone: its own init (seed), its
own data order (its own GlobalBatchSampler; batches gathered per member, then stacked), its
schedule value, divergence detection at its exact step (then it is frozen and the others go
on), its evaluation points through bench/engine/evaluation.py on its member module, and its
record through bench/engine/record.py, plus `stacked`: {group, size, index}. A member's
timings are its share: the group's training seconds of a step divided among the members
still training, its own evaluation seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from accelerate import Accelerator
from accelerate.utils import send_to_device, set_seed

import tasks
from bench.engine import environment, record
from bench.engine.checkpoints import GroupCheckpointer
from bench.engine.context import OnStep, Progress, TrialContext, device_probe, trial_steps
from bench.engine.divergence import params_finite, watch_for
from bench.engine.evaluation import evaluate_now
from bench.engine.stacked.batches import GroupBatches
from bench.engine.stacked.members import member_context
from bench.ledger.store import Ledger
from bench.trial import schedules
from bench.trial.batch import TrialBatch
from bench.trial.config import Trial


@dataclass
class Member:
    trial: Trial
    ctx: TrialContext
    record: dict[str, Any]
    prog: Progress = field(default_factory=Progress)
    status: str | None = None  # None: training; 'done' | 'diverged'
    diverged_at: int | None = None


def run_group(group: TrialBatch, out_dir: str, data_dir: str | None = None,
              cache_dir: str | None = None, suite: str | None = None,
              on_step: OnStep | None = None,
              still_claimed: Callable[[str], bool] | None = None) -> list[dict[str, Any]]:
    """Run (or resume) the group and write each member's record; returns the records.

    Raises NotStackable (bench/engine/stacked/models.py) before anything is written where the
    task's model cannot stack; any other exception leaves the members without records (the
    caller runs them one by one). `on_step` after each step and before each member's
    evaluation (bench/engine/context.py::OnStep). A member's record is written only where
    `still_claimed(its id)` says its claim was not lost (as bench/engine/runner.py's)."""
    with environment.pinned_threads():  # as run_trial: results must not depend on it
        return _run(group, Ledger(out_dir), data_dir, cache_dir, suite, on_step,
                    still_claimed)


def build_stacked(task: Any, trials: Sequence[Trial], device: Any,
                  strategy: str | None = None) -> tuple[Any, dict[str, bool], Any]:
    """A group's StackedModel (bench/engine/stacked/models.py; `strategy` None: the timed
    vmap/loop choice), decay mask and stacked optimizer, as every group's run builds them
    (`make gpu-check`'s stacked stage times the same)."""
    from bench.engine.stacked.models import stack_models
    from optimizers.stacked import stacked_optimizer

    first = trials[0]
    set_seed(first.seed)
    model = stack_models(task, [t.seed for t in trials], device, strategy=strategy)
    mask = task.decay_mask(model.members[0], first.mask or task.default_mask)
    optimizer = stacked_optimizer(first.optimizer, model.params,
                                  {n: bool(mask.get(n)) for n in model.params},
                                  [t.lr for t in trials], [t.weight_decay for t in trials],
                                  dict(first.optimizer_options), members=model.members)
    return model, mask, optimizer


def _build(group: TrialBatch, acc: Accelerator, data_dir: str | None, cache_dir: str | None,
           suite: str | None) -> tuple[Any, Any, list[Member], Any]:
    first = group.trials[0]
    task = tasks.create(first.task, first.budget, dict(first.task_options), data_dir=data_dir,
                        cache_dir=cache_dir)
    model, mask, optimizer = build_stacked(task, group.trials, acc.device)
    multiplier = schedules.multiplier(first.schedule, trial_steps(first, task), first.warmup)
    probe = device_probe(task, acc.device)
    members = []
    for trial, module in zip(group.trials, model.members):
        ctx = member_context(trial, task, acc, module, mask, probe, multiplier)
        members.append(Member(trial, ctx, {**record.new_record(trial, suite),
                                           **record.describe(ctx)}))
    return model, optimizer, members, multiplier


def _run(group: TrialBatch, ledger: Ledger, data_dir: str | None, cache_dir: str | None,
         suite: str | None, on_step: OnStep | None,
         still_claimed: Callable[[str], bool] | None) -> list[dict[str, Any]]:
    acc = Accelerator(mixed_precision="no")
    started = time.perf_counter()
    model, optimizer, members, multiplier = _build(group, acc, data_dir, cache_dir, suite)
    first = members[0].ctx
    steps = first.steps
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
        for i, m in enumerate(members):
            if on_step is not None:
                on_step(0, steps, 0, (i, len(members)))
            evaluate_now(m.ctx, m.prog)
    optimizer.set_lr_multiplier(multiplier(step))
    batches = GroupBatches([m.ctx for m in members], step)
    watch = watch_for(acc.device, len(members))
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
        if first.evaluates_at(step + 1):
            for i in active:  # W_step: the next step is an evaluation point (rotation)
                members[i].ctx.rotation.before(step)
        optimizer.step()
        step += 1
        optimizer.set_lr_multiplier(multiplier(step))
        optimizer.zero_grad()
        training = len(active)
        evaluating = first.evaluates_at(step)
        due = checkpointer.due(step)
        if evaluating or due or step % watch.check_every == 0:
            bad = watch.diverged_at()
            sums, count = watch.drain()
            for i in list(active):
                if bad[i] is not None:
                    diverge(i, bad[i])
                else:
                    members[i].prog.add_losses(sums[i], count)
        shared += (time.perf_counter() - t0) / training
        if evaluating:
            due_now = list(active)
            for k, i in enumerate(due_now):
                settle(i)
                if not params_finite(members[i].ctx.model):
                    diverge(i, step)
                else:
                    if on_step is not None:
                        on_step(step, steps, len(members) - len(active), (k, len(due_now)))
                    evaluate_now(members[i].ctx, members[i].prog)
        if due:
            for i in active:
                settle(i)
            checkpointer.save(step, model.params, optimizer, [m.prog for m in members],
                              [(m.status, m.diverged_at) for m in members],
                              (time.perf_counter() - started) / len(members))
        if on_step is not None:
            on_step(step, steps, len(members) - len(active))
    for i in active:
        settle(i)
    return _write_records(members, group, ledger, acc, started, model.mode, still_claimed,
                          on_step)


def _write_records(members: Sequence[Member], group: TrialBatch, ledger: Ledger,
                   acc: Accelerator, started: float, mode: str,
                   still_claimed: Callable[[str], bool] | None = None,
                   on_step: OnStep | None = None) -> list[dict[str, Any]]:
    out = []
    finished = [i for i, m in enumerate(members) if m.status is None]
    diverged = len(members) - len(finished)
    for i, m in enumerate(members):
        if on_step is not None and i in finished:  # the test split's evaluation
            steps = m.ctx.steps
            on_step(steps, steps, diverged, (finished.index(i), len(finished)))
        final = record.finish(m.record, m.ctx, m.prog, m.status or "done", m.diverged_at)
        record.complete(m.record, m.ctx, m.prog, final,
                        (time.perf_counter() - started) / len(members), acc,
                        stacked={"group": group.id, "size": group.size, "index": i,
                                 "mode": mode})
        out.append(m.record)
    for rec in out:  # all at once, after every member's final evaluation
        if still_claimed is None or still_claimed(rec["id"]):
            ledger.write(rec)
    GroupCheckpointer(ledger, group).clear()
    return out
