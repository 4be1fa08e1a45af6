"""Microbenchmark of a stacked step (for the perf module; never a timed test): one step of T
stacked trials against T separate single-trial steps, the gradients already in place."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import torch

import optimizers
from optimizers.stacked import StackedOptimizer, stacked_optimizer


def _cpu_seconds_per_call(call: Callable[[], None], steps: int) -> float:
    call()  # the first call allocates state (and imports kernels)
    start = time.process_time()
    for _ in range(steps):
        call()
    return (time.process_time() - start) / steps


def microbenchmark(name: str = "adamw", size: int = 32, dim: int = 20, steps: int = 200,
                   options: Mapping[str, Any] | None = None,
                   threads: int = 1) -> dict[str, Any]:
    """CPU seconds per step for `size` trials of one `dim`-vector (decayed) parameter:
    `stacked_s` (one native step, or the views path where `name` has none), `views_s` (the
    views path), `separate_s` (`size` single-trial optimizers, each stepped once), and
    `speedup` = separate_s / stacked_s."""
    options = dict(options or {})
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(0)
        lrs = [1e-3 * (1 + i % 4) for i in range(size)]
        wds = [0.1 * (1 + i % 3) for i in range(size)]
        grad = torch.randn(size, dim, generator=gen)

        def stacked(views: bool) -> StackedOptimizer:
            w = torch.randn(size, dim, generator=gen).requires_grad_()
            w.grad = grad.clone()
            return stacked_optimizer(name, {"w": w}, {"w": True}, lrs, wds, options,
                                     views=views)

        group = stacked(False)
        separate = []
        for i in range(size):
            p = torch.randn(dim, generator=gen).requires_grad_()
            p.grad = grad[i].clone()
            separate.append(optimizers.create(name, [{"params": [p],
                                                      "weight_decay": wds[i]}],
                                              lr=lrs[i], weight_decay=wds[i], **options))

        def step_separately() -> None:
            for opt in separate:
                opt.step()

        stacked_s = _cpu_seconds_per_call(group.step, steps)
        views_s = _cpu_seconds_per_call(stacked(True).step, steps)
        separate_s = _cpu_seconds_per_call(step_separately, steps)
    finally:
        torch.set_num_threads(before)
    return {"optimizer": name, "size": size, "dim": dim, "native": group.native,
            "stacked_s": stacked_s, "views_s": views_s, "separate_s": separate_s,
            "speedup": separate_s / stacked_s}
