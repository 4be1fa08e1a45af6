"""Microbenchmark of a stacked step (for the perf module; never a timed test): one step of T
stacked trials against T separate single-trial steps, the gradients already in place."""

from __future__ import annotations

import math
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


def endpoint_difference(name: str, steps: int = 20_000, dtype: torch.dtype = torch.float64,
                        options: Mapping[str, Any] | None = None) -> float:
    """Max relative difference, after `steps` steps, between each member of a stacked group
    (T = 3, the optimizer's 2nd-4th grid lr and 1st/3rd/4th grid λ, own init seed) and the
    same trial alone, on a 20-dim quadratic f(x) = x'Ax/2 - b'x (eigenvalues 1e-2..1, cosine
    schedule): gradients feed back, so rounding differences grow where the method amplifies
    them. The gradient is computed the same way (one matrix-vector product a member) on both
    sides."""
    options = dict(options or {})
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        gen = torch.Generator().manual_seed(0)
        basis, _ = torch.linalg.qr(torch.randn(20, 20, generator=gen, dtype=torch.float64))
        a = ((basis * torch.logspace(-2, 0, 20, dtype=torch.float64)) @ basis.T).to(dtype)
        b = (torch.randn(20, generator=gen, dtype=torch.float64) * 0.1).to(dtype)
        spec = optimizers.spec(name)
        lrs = [spec.lr_grid[i % len(spec.lr_grid)] for i in (1, 2, 3)]
        wds = [spec.weight_decay_grid[i % len(spec.weight_decay_grid)] for i in (0, 2, 3)]
        init = torch.stack([torch.randn(20, generator=torch.Generator().manual_seed(s),
                                        dtype=torch.float64) for s in range(3)]).to(dtype)

        def multiplier(t: int) -> float:
            return 0.5 * (1.0 + math.cos(math.pi * t / steps))

        x = init.clone().requires_grad_()
        group = stacked_optimizer(name, {"x": x}, {"x": True}, lrs, wds, options)
        for t in range(steps):
            group.set_lr_multiplier(multiplier(t))
            with torch.no_grad():
                x.grad = torch.stack([a @ x[i] - b for i in range(3)])
            group.step()
        worst = 0.0
        for i in range(3):
            p = init[i].clone().requires_grad_()
            alone = optimizers.create(name, [{"params": [p], "weight_decay": wds[i]}],
                                      lr=lrs[i], weight_decay=wds[i], **options)
            schedule = torch.optim.lr_scheduler.LambdaLR(alone, multiplier)
            for _ in range(steps):
                with torch.no_grad():
                    p.grad = a @ p - b
                alone.step()
                schedule.step()
            ref = p.detach()
            worst = max(worst, ((x.detach()[i] - ref).abs().max() / ref.abs().max()).item())
    finally:
        torch.set_num_threads(before)
    return worst


def member_calls_benchmark(size: int = 16, dim: int = 200_704, steps: int = 20,
                           threads: int = 1) -> dict[str, Any]:
    """CPU seconds per AdamW step of `size` stacked trials of one `dim`-vector: as one op set
    over [size, dim] (`ops_s`) and member by member through torch's fused kernel (`members_s`,
    optimizers/stacked_fused.py), whichever the size rule would pick (`member_calls`)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        w = torch.randn(size, dim).requires_grad_()
        w.grad = torch.randn(size, dim)
        group = stacked_optimizer("adamw", {"w": w}, {"w": True}, [1e-3] * size,
                                  [0.1] * size)
        chosen = group.member_calls
        seconds = {}
        for members in (False, True):
            group.member_calls = members
            seconds[members] = _cpu_seconds_per_call(group.step, steps)
    finally:
        torch.set_num_threads(before)
    return {"size": size, "dim": dim, "member_calls": chosen, "ops_s": seconds[False],
            "members_s": seconds[True]}
