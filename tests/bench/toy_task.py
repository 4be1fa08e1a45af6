"""A tiny regression task for engine tests: fast, deterministic, and able to diverge or fail
on request (`task.explode_at`, `task.fail_at`)."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import TensorDataset

from tasks.base import Budget, Task
from tasks.options import TaskOption, at_least


class ToyModel(torch.nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(dim, 1)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).squeeze(-1)


class ToyTask(Task):
    name = "toy"
    declared_options = (
        TaskOption("dim", 5, int, "input dimension", at_least(1)),
        TaskOption("explode_at", None, int, "loss becomes inf from this step", nullable=True),
        TaskOption("fail_at", None, int, "raise from this step", nullable=True),
    )
    budgets = {
        "smoke": Budget("smoke", steps=30, batch_size=8, eval_every=10, eval_batch_size=16,
                        probe_batches=2),
        "cpu": Budget("cpu", steps=60, batch_size=8, eval_every=20, eval_batch_size=16),
        "full": Budget("full", steps=100, batch_size=8, eval_every=20, eval_batch_size=16),
    }

    def __init__(self, budget: Budget, options: dict[str, Any] | None = None,
                 data_dir: str | None = None, cache_dir: str | None = None) -> None:
        super().__init__(budget, options, data_dir, cache_dir)
        gen = torch.Generator().manual_seed(0)
        self.dim = self.options["dim"]
        self.w = torch.randn(self.dim, generator=gen) * 3
        x = torch.randn(96, self.dim, generator=gen)
        y = x @ self.w + 0.1 * torch.randn(96, generator=gen)
        self.data = {"train": (x[:64], y[:64]), "val": (x[64:80], y[64:80]),
                     "test": (x[80:], y[80:])}
        self.steps_seen = 0

    @property
    def data_fingerprint(self) -> str:
        return "toy-v1"

    def build_model(self, seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        return ToyModel(self.dim)

    def train_dataset(self) -> TensorDataset:
        return TensorDataset(*self.data["train"])

    def eval_dataset(self, split: str) -> TensorDataset:
        return TensorDataset(*self.data[split])

    def loss(self, model: torch.nn.Module, batch: Any) -> torch.Tensor:
        x, y = batch
        if model.training:
            self.steps_seen += 1
        if self.options.get("fail_at") and self.steps_seen >= self.options["fail_at"]:
            raise RuntimeError("toy task failure requested")
        out = model(x)
        if self.options.get("explode_at") and self.steps_seen >= self.options["explode_at"]:
            out = out * float("inf")
        return torch.nn.functional.mse_loss(out, y)

    def eval_outputs(self, model: torch.nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, y = batch
        return {"loss": (model(x) - y) ** 2}

    def summarize(self, split: str, outputs: dict[str, torch.Tensor]) -> dict[str, float]:
        return {f"{split}_loss": outputs["loss"].mean().item(),
                f"{split}_count": float(len(outputs["loss"]))}

    def extra_metrics(self, model: torch.nn.Module, weight_decay: float,
                      radius: float | None) -> dict[str, float]:
        return {"dist_w": (model.linear.weight.detach().squeeze(0) - self.w).norm().item()}
