"""What the loop, the evaluations and the record read of one running trial: its context
(task, model, optimizer, schedule, decay setup, probe batches) and its progress (step, curve,
best values, clocks).

`make_context` is the one place a `TrialContext` is made, for a lone trial (`build`, here) and
for a member of a stacked group (bench/engine/stacked/members.py) alike: both hand it the
trial's decay setup (bench/engine/param_groups.py), a schedule and the probe batches on the
device, and it derives the rest (steps, evaluation points, the rotation watch).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from accelerate import Accelerator
from accelerate.utils import send_to_device, set_seed

import optimizers
import tasks
from bench.engine.param_groups import DecaySetup, decay_setup
from bench.measures import rotation
from bench.trial import schedules
from bench.trial.config import Trial
from bench.trial.tracking import TrialTrackers
from optimizers.decay import DecayStyle
from tasks.base import Task


class OnStep(Protocol):
    """What the loops report as they go, to a sweep's progress files: after every training
    step (steps done, steps in all, members diverged so far: 0 alone), and before each
    member's evaluation with `evaluating` = (members evaluated so far at this point, members
    to evaluate). Called every step, so it must be cheap: anything slow is rate-limited
    (bench/ledger/progress.py::ProgressWriter)."""

    def __call__(self, step: int, steps: int, diverged: int,
                 evaluating: tuple[int, int] | None = None) -> None: ...


@dataclass
class Progress:
    """Everything about a running trial that a checkpoint must carry besides the model and
    optimizer state."""

    step: int = 0
    curve: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)
    train_time: float = 0.0
    eval_time: float = 0.0
    loss_sum: float = 0.0
    loss_count: int = 0
    eval_clock: list[float] = field(default_factory=list)  # train_time at each curve point
    # The step-0 probe's gap terms, which kkt_residual divides by (bench/measures/kkt.py).
    kkt_start: dict[str, dict[str, list[float]]] | None = None
    # Wall seconds of earlier processes up to the checkpoint this one resumed from, plus
    # this process's, as of the last checkpoint: a resumed trial's wall_s counts them all.
    wall_s: float = 0.0
    started: float = field(default_factory=time.perf_counter, repr=False)

    def saved(self, wall_s: float) -> dict[str, Any]:
        """What a checkpoint keeps, with `wall_s` this process's seconds so far (added)."""
        state = {k: v for k, v in self.__dict__.items() if k != "started"}
        state["wall_s"] = self.wall_s + wall_s
        return state

    @classmethod
    def restored(cls, saved: dict[str, Any]) -> Progress:
        """The progress a checkpoint kept; this process's clock starts now."""
        return cls(**{k: v for k, v in saved.items() if k != "started"})

    def add_losses(self, loss_sum: float, count: int) -> None:
        """Training losses read since the last read (the next curve point's train_loss)."""
        self.loss_sum += loss_sum
        self.loss_count += count


@dataclass
class TrialContext:
    trial: Trial
    task: Task
    spec: optimizers.OptimizerSpec
    accelerator: Accelerator
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any  # LambdaLR alone; a member's view of its group's schedule when stacked
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

    def evaluates_at(self, step: int) -> bool:
        """Whether `step` (optimizer steps done) is an evaluation point."""
        return step % self.eval_every == 0 or step == self.steps


def trial_steps(trial: Trial, task: Task) -> int:
    """The trial's training steps: its own setting, else its budget's."""
    return trial.steps or task.budget.steps


def device_probe(task: Task, device: torch.device) -> list[Any]:
    """The task's fixed probe batches (SPEC §3 metrics) on `device`."""
    return [send_to_device(b, device) for b in task.probe_batches()]


def make_context(trial: Trial, task: Task, accelerator: Accelerator, model: torch.nn.Module,
                 setup: DecaySetup, scheduler: Any, probe: list[Any],
                 optimizer: torch.optim.Optimizer | None = None) -> TrialContext:
    """The context of `trial` training `model` (as Accelerate prepared it) under the decay
    `setup` and `scheduler`; `optimizer`: what steps it, where not `setup.optimizer` itself
    (Accelerate's fp16 wrapper)."""
    ctx = TrialContext(
        trial=trial, task=task, spec=optimizers.spec(trial.optimizer), accelerator=accelerator,
        model=model, optimizer=optimizer or setup.optimizer, scheduler=scheduler,
        decayed=setup.decayed, decay_style=setup.style, mask_info=setup.mask_info,
        steps=trial_steps(trial, task), eval_every=trial.eval_every or task.budget.eval_every,
        radius=setup.radius, metric_radius=setup.metric_radius, probe=probe)
    # A stacked group calls ctx.rotation.before(step) itself: its members' optimizers never
    # step, so the hook never fires there.
    ctx.rotation = rotation.RotationWatch(ctx.optimizer, ctx.decayed, due=ctx.evaluates_at,
                                          done_steps=lambda: ctx.scheduler.last_epoch)
    return ctx


def build(trial: Trial, accelerator: Accelerator, data_dir: str | None = None,
          cache_dir: str | None = None) -> TrialContext:
    """A lone trial's context: its task, its model from its seed, its optimizer and LambdaLR
    schedule, prepared by Accelerate (DDP, fp16) and registered for its checkpoints."""
    task = tasks.create(trial.task, trial.budget, dict(trial.task_options), data_dir=data_dir,
                        cache_dir=cache_dir)
    set_seed(trial.seed)
    model = task.build_model(trial.seed)
    mask = task.decay_mask(model, trial.mask or task.default_mask)
    setup = decay_setup(trial, task, optimizers.spec(trial.optimizer), model, mask)
    optimizer = setup.optimizer
    if trial.compile:
        model.compile()  # in place: names, state_dict keys and unwrap_model stay the same
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, schedules.multiplier(trial.schedule, trial_steps(trial, task),
                                        trial.warmup))
    model = accelerator.prepare(model)
    if trial.mixed_precision == "fp16":
        # Only fp16 needs Accelerate's optimizer wrapper (loss scaling); elsewhere it costs
        # ~0.5 ms a step in bookkeeping, more than a whole step of the small tasks.
        optimizer = accelerator.prepare(optimizer)
    else:
        accelerator.register_for_checkpointing(optimizer)
    accelerator.register_for_checkpointing(scheduler)
    return make_context(trial, task, accelerator, model, setup, scheduler,
                        device_probe(task, accelerator.device), optimizer)
