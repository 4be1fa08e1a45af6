"""Optimizer step throughput: every built-in on 10M fp32 parameters in 50 tensors (CPU),
against torch.optim.AdamW(fused=True) in the same run.

Speed is nominal bytes moved per second. Nominal bytes per parameter per step: read the
parameter and its gradient, write the parameter, read and write each state tensor of the
parameter's size: 4 B x (3 + 2 x state tensors) in fp32. AdamW (2 state tensors) moves 28 B,
Lion and momentum SGD 20 B, SignGD 12 B. The count is read from each optimizer's state after a
warm-up step, so any registered optimizer is measured the same way.

Contestants step in turns (round robin) so that load from other processes hits them alike.
With one thread (the default) the clock is the thread's CPU time, which other processes on a
shared machine barely disturb; with more threads it is wall time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch

import optimizers
from bench.perf import markdown_table
from optimizers.builtins import GRID

REFERENCE = "torch AdamW (fused)"
TARGET = 0.70  # share of the reference's bytes/s each built-in should reach


@dataclass
class Contestant:
    name: str
    make: Callable[[list[torch.Tensor]], torch.optim.Optimizer]
    params: list[torch.Tensor] | None = None
    optimizer: torch.optim.Optimizer | None = None
    bytes_per_step: int = 0
    times: list[float] | None = None


def contestants() -> list[Contestant]:
    out = [Contestant(REFERENCE, partial(torch.optim.AdamW, lr=1e-3, weight_decay=0.1,
                                         fused=True))]
    for row in GRID:
        name = row.name
        out.append(Contestant(name, partial(optimizers.create, name)))
    # The slower paths each built-in can be switched to, for comparison.
    for name, impl in (("adamw", "foreach"), ("adamw", "loop"), ("signgd_wd", "foreach"),
                       ("lion", "foreach")):
        out.append(Contestant(f"{name} (impl={impl})",
                              partial(optimizers.create, name, impl=impl)))
    return out


def nominal_bytes(optimizer: torch.optim.Optimizer, params: list[torch.Tensor]) -> int:
    """Read x and g, write x (in x's dtype); read and write each full-size state tensor (in
    its own dtype: fp32 state beside bf16 parameters counts 4 B)."""
    total = 0
    for p in params:
        state = optimizer.state.get(p, {})
        state_bytes = sum(v.element_size() for v in state.values()
                          if isinstance(v, torch.Tensor) and v.numel() == p.numel())
        total += p.numel() * (3 * p.element_size() + 2 * state_bytes)
    return total


def setup(c: Contestant, n_params: int, n_tensors: int, seed: int, device: str = "cpu",
          dtype: torch.dtype = torch.float32) -> None:
    gen = torch.Generator().manual_seed(seed)
    size = n_params // n_tensors
    c.params = [torch.nn.Parameter(torch.randn(size, generator=gen).to(device, dtype))
                for _ in range(n_tensors)]
    for p in c.params:
        p.grad = torch.randn(size, generator=gen).to(device, dtype)
    c.optimizer = c.make(c.params)
    for _ in range(2):  # create state, reach steady state of the allocator
        c.optimizer.step()
    c.bytes_per_step = nominal_bytes(c.optimizer, c.params)
    c.times = []


def measure(field: list[Contestant], repeats: int, clock: Callable[[], float]) -> None:
    for _ in range(repeats):
        for c in field:
            start = clock()
            c.optimizer.step()
            c.times.append(clock() - start)


def table(field: list[Contestant]) -> str:
    ref = next(c for c in field if c.name == REFERENCE)
    ref_rate = ref.bytes_per_step / statistics.median(ref.times)
    n = sum(p.numel() for p in ref.params)
    header = ("optimizer", "B/param", "ms/step", "GB/s", "vs fused AdamW", f">= {TARGET:.0%}")
    rows = []
    for c in field:
        seconds = statistics.median(c.times)
        rate = c.bytes_per_step / seconds
        ratio = rate / ref_rate
        rows.append((c.name, f"{c.bytes_per_step / n:.0f}", f"{seconds * 1e3:.2f}",
                     f"{rate / 1e9:.1f}", f"{ratio:.2f}",
                     "" if c is ref else ("yes" if ratio >= TARGET else "no")))
    return markdown_table(header, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf.optimizer_step",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=int, default=10_000_000)
    parser.add_argument("--tensors", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: CPU-time clock)")
    parser.add_argument("--only", default=None,
                        help="comma-separated contestants to add to the reference")
    args = parser.parse_args(argv)
    clock = time.thread_time if args.threads == 1 else time.perf_counter
    field = contestants()
    if args.only:
        keep = set(args.only.split(","))
        field = [c for c in field if c.name == REFERENCE or c.name in keep]
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        for i, c in enumerate(field):
            setup(c, args.params, args.tensors, seed=i)
        measure(field, args.repeats, clock)
    finally:
        torch.set_num_threads(threads)
    clock_name = "thread CPU time" if args.threads == 1 else "wall time"
    print(f"{args.params:,} fp32 parameters in {args.tensors} tensors, CPU, "
          f"{args.threads} thread(s), median of {args.repeats} steps ({clock_name}), "
          f"torch {torch.__version__}\n")
    print(table(field))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
