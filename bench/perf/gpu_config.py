"""What the gpu-check's stages share (bench/perf/gpu.py runs them, bench/perf/gpu_stages.py
holds the training ones): the sizes of one check, a stage's result, and a clock that waits for
the device."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass(frozen=True)
class CheckConfig:
    """Sizes of one check: the GPU defaults, or `dry_run()`'s tiny CPU ones."""

    device: str = "cuda"
    dry_run: bool = False
    step_sizes: tuple[int, ...] = (10_000_000, 100_000_000)
    step_tensors: int = 50
    step_repeats: int = 20
    copy_bytes: int = 1 << 30
    wikitext_budget: str = "full"
    wikitext_steps: int = 200
    grid_workers: tuple[int, ...] = (1, 4, 8)
    grid_trials_per_worker: int = 2
    grid_steps: int = 300
    memory_budgets: tuple[str, ...] = ("smoke", "cpu", "full")
    memory_steps: int = 3
    stacked_budget: str = "cpu"
    stacked_sizes: tuple[int, ...] = (1, 8, 64)
    stacked_steps: int = 20
    stacked_warmup: int = 3
    # timed beside the engine's own vmap/loop choice (which is one of them)
    stacked_strategies: tuple[str, ...] = ("vmap", "loop")
    data_dir: str | None = None
    cache_dir: str | None = None

    @classmethod
    def dry_run_config(cls, **kw: Any) -> CheckConfig:
        return cls(device="cpu", dry_run=True, step_sizes=(20_000,), step_tensors=4,
                   step_repeats=2, copy_bytes=1 << 20, wikitext_budget="smoke",
                   wikitext_steps=3, grid_workers=(1, 2), grid_trials_per_worker=1,
                   grid_steps=2, memory_budgets=("smoke",), memory_steps=1,
                   stacked_budget="smoke", stacked_sizes=(1, 2), stacked_steps=2,
                   stacked_warmup=1, **kw)


@dataclass
class StageResult:
    name: str
    status: str = "ok"  # ok | failed | skipped
    seconds: float = 0.0
    summary: str = ""
    tables: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def synced_clock(device: str) -> Callable[[], float]:
    """perf_counter after the device has finished its queued work (CPU: perf_counter)."""
    if torch.device(device).type != "cuda":
        return time.perf_counter

    def clock() -> float:
        torch.cuda.synchronize()
        return time.perf_counter()

    return clock
