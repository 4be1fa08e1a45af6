"""The Task protocol: everything the runner needs to know about *what* is trained.

A task never imports `bench`: it builds a model and data, computes losses and per-example
evaluation outputs, and says which parameters are decayed. The runner owns devices, DDP,
optimizers, schedules, metrics and storage.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

import torch
from torch.utils.data import DataLoader, Dataset

from tasks.masks import MASK_POLICIES, decay_mask
from tasks.options import TaskOption, parse_options

BUDGET_NAMES = ("smoke", "cpu", "full")


@dataclass(frozen=True)
class Budget:
    """How much to train: fixed per task for `smoke` (seconds), `cpu` (2 cores), `full` (GPU)."""

    name: str
    steps: int
    batch_size: int  # global: split across processes under DDP
    eval_every: int
    eval_batch_size: int = 256
    probe_batches: int = 4  # training batches averaged into the probe gradient
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


class Task(abc.ABC):
    """One benchmark problem. Subclasses set the class attributes and implement the methods."""

    name: ClassVar[str]
    budgets: ClassVar[Mapping[str, Budget]]
    # Every task option (`--set task.NAME=value`), declared once; anything else is an error.
    declared_options: ClassVar[tuple[TaskOption, ...]] = ()
    default_mask: ClassVar[str] = "matrices"
    # The decay-mask policies `decay_mask` accepts (`--set mask=`).
    mask_policies: ClassVar[tuple[str, ...]] = MASK_POLICIES
    # Hyper-parameters are selected on this validation metric (leaderboards, sweeps).
    selection_metric: ClassVar[str] = "val_loss"
    selection_mode: ClassVar[str] = "min"
    # Budget name -> target of the selection metric (AlgoPerf-style scoring: each record gets
    # steps- and time-to-target). Budgets without one are not scored.
    targets: ClassVar[Mapping[str, float]] = MappingProxyType({})
    # The figure the report's index leads with: 'heatmaps' (lr x λ) or 'linf' (λ‖x‖∞ over
    # training, where satisfying the constraint is the point of the task).
    headline_figure: ClassVar[str] = "heatmaps"
    # Stacked trials (bench/engine/stacked): "native" -- the task implements `stacked_losses`;
    # "func" -- its model runs T trials at once through torch.func (vmap); "none" -- one by one.
    stacking: ClassVar[str] = "none"

    def __init__(self, budget: Budget, options: Mapping[str, Any] | None = None,
                 data_dir: str | None = None, cache_dir: str | None = None) -> None:
        self.budget = budget
        # Defaults, then the budget's options, then the user's (`--set task.NAME=value`).
        self.options = parse_options(self.name, self.declared_options,
                                     {**budget.options, **(options or {})})
        self.check_options(self.options)
        self.data_dir = data_dir
        self.cache_dir = cache_dir

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        """ValueError, worded as `TaskOption.parse`'s ('task.NAME=value is not allowed; use
        ...'), for parsed options that are each valid but together build no instance (run
        by the trial validation, before anything is built)."""
        return None  # every combination of valid options builds, unless a task says not

    # --- identity -------------------------------------------------------------------------
    @property
    def data_fingerprint(self) -> str:
        """Short hash of the data actually used (goes into every result record)."""
        return "none"

    def describe(self) -> dict[str, Any]:
        """Provenance for result records: data source, fingerprint, model size, options."""
        return {"data_fingerprint": self.data_fingerprint, "options": dict(self.options)}

    # --- model and data -------------------------------------------------------------------
    @abc.abstractmethod
    def build_model(self, seed: int) -> torch.nn.Module:
        """A freshly initialised model; the same seed gives the same weights."""

    @abc.abstractmethod
    def train_dataset(self) -> Dataset:
        """Training examples; the runner shuffles them with the trial's seed."""

    @abc.abstractmethod
    def eval_dataset(self, split: str) -> Dataset:
        """'val' or 'test' examples, evaluated in order."""

    def collate(self, examples: list[Any]) -> Any:
        return torch.utils.data.default_collate(examples)

    # --- computation ----------------------------------------------------------------------
    @abc.abstractmethod
    def loss(self, model: torch.nn.Module, batch: Any) -> torch.Tensor:
        """Scalar mean training loss of a batch; must call `model(...)` (DDP hooks live there)."""

    @abc.abstractmethod
    def eval_outputs(self, model: torch.nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        """Per-example (or per-token) tensors, first dim = examples, so they can be gathered
        exactly across processes: e.g. {'loss': (B,), 'correct': (B,)}."""

    @abc.abstractmethod
    def summarize(self, split: str, outputs: dict[str, torch.Tensor]) -> dict[str, float]:
        """Metrics from all gathered outputs of a split, named `{split}_loss`, etc."""

    def steps_per_epoch(self) -> int:
        """Steps that see every training example once: the sampler's epoch (the last
        incomplete batch dropped). Full-batch tasks, whose every step sees the whole
        objective, return 1 (bench/measures/timescale.py: τ_epoch)."""
        return max(len(self.train_dataset()) // self.budget.batch_size, 1)

    def stacked_losses(self, params: Mapping[str, torch.Tensor],
                       buffers: Mapping[str, torch.Tensor], batch: Any) -> torch.Tensor:
        """`stacking = "native"` only: the (T,) training losses of T models at once.

        `params` maps each name of `model.named_parameters()` to a (T, *shape) tensor (trial
        dimension first), `buffers` each buffer name to the one tensor all T share, `batch`
        has a leading T dimension. Entry i must equal `loss(model_i, batch[i])`."""
        raise NotImplementedError(f"task {self.name!r} declares no native stacked losses")

    def stacked_gradients(self, params: Mapping[str, torch.Tensor],
                          buffers: Mapping[str, torch.Tensor], batch: Any
                          ) -> tuple[torch.Tensor, dict[str, torch.Tensor]] | None:
        """`stacking = "native"` only, optional: the (T,) losses of `stacked_losses` and each
        parameter's (T, *shape) gradient of their sum in closed form, without autograd (for
        the tiny tasks autograd's backward is most of a stacked step). None: autograd."""
        return None

    def stacking_obstacle(self) -> str | None:
        """Why this task's trials cannot be stacked under its current options (None: they
        can, as far as the task knows; the model checks in bench/engine/stacked come on top)."""
        return None

    def probe_batches(self) -> list[Any]:
        """A fixed set of training batches for the low-noise probe gradient (SPEC §3)."""
        gen = torch.Generator().manual_seed(12345)
        loader = DataLoader(self.train_dataset(), batch_size=self.budget.batch_size,
                            shuffle=True, generator=gen, collate_fn=self.collate)
        batches = []
        for batch in loader:
            batches.append(batch)
            if len(batches) == self.budget.probe_batches:
                break
        return batches

    def extra_metrics(self, model: torch.nn.Module, weight_decay: float,
                      radius: float | None) -> dict[str, float]:
        """Task-specific metrics computed at eval time (e.g. distance to a known optimum).

        `model` is unwrapped (no DDP). `weight_decay` is the trial's lambda on the decayed
        group; `radius` the optimizer's implied l_inf radius (None: no box from the decay
        style, e.g. coupled decay; tasks then use 1/weight_decay where they need a box)."""
        return {}

    def decay_mask(self, model: torch.nn.Module, policy: str) -> dict[str, bool]:
        """Parameter name -> decayed? (names as in `model.named_parameters()`)."""
        return decay_mask(model, policy)
