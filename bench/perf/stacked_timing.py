"""Seconds per stacked forward + backward of T trials against T lone forward + backwards, on
the same per-trial batches: the model side of the stacked speed-up (the optimizer step is
timed elsewhere). For `make perf`; nothing here asserts a timing."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from bench.engine.stacked.choice import training_batches
from bench.engine.stacked.models import batch_to, stack_batches, stack_models
from bench.perf.gpu_config import synced_clock
from tasks.base import Task


@dataclass(frozen=True)
class StackedTiming:
    trials: int
    mode: str  # how the stacked losses ran: native, vmap or loop
    stacked_s: float  # wall seconds per stacked forward + backward of all T members
    lone_s: float  # wall seconds per round of T lone forward + backwards (one per trial)
    stacked_cpu_s: float  # the same in process CPU seconds (all threads)
    lone_cpu_s: float

    @property
    def speedup(self) -> float:
        """Lone wall time over stacked wall time (> 1: stacking wins)."""
        return self.lone_s / self.stacked_s


def time_forward_backward(task: Task, seeds: Sequence[int], device: torch.device | str = "cpu",
                          repeats: int = 20, warmup: int = 2, strategy: str | None = None
                          ) -> StackedTiming:
    """Mean seconds of `repeats` stacked forward + backwards (after `warmup`) against the
    same number of rounds of lone ones, trial i on its own batch in both. `strategy`: as in
    stack_models (func tasks)."""
    if repeats < 1 or warmup < 0:
        raise ValueError("time_forward_backward needs repeats >= 1 and warmup >= 0")
    device = torch.device(device)
    stacked = stack_models(task, seeds, device, strategy=strategy)
    lone = [task.build_model(int(s)).to(device).train() for s in seeds]
    batches = [batch_to(b, device) for b in trial_batches(task, len(seeds))]
    stacked_batch = stack_batches(batches)

    def stacked_step() -> None:
        stacked.backward(stacked_batch)  # what a group's training step runs
        for p in stacked.params.values():
            p.grad = None

    def lone_round() -> None:
        for model, batch in zip(lone, batches):
            task.loss(model, batch).backward()
            model.zero_grad(set_to_none=True)

    s_wall, s_cpu = mean_seconds(stacked_step, device, repeats, warmup)
    l_wall, l_cpu = mean_seconds(lone_round, device, repeats, warmup)
    return StackedTiming(len(seeds), stacked.mode, s_wall, l_wall, s_cpu, l_cpu)


trial_batches = training_batches  # one training batch of the budget's size per trial


def mean_seconds(fn: Callable[[], object], device: torch.device | str, repeats: int,
                 warmup: int) -> tuple[float, float]:
    """(wall, process CPU) seconds per call of `fn`, the mean of `repeats` calls after
    `warmup` untimed ones; on a GPU the wall clock waits for the device (synced_clock)."""
    clock = synced_clock(str(device))
    for _ in range(warmup):
        fn()
    wall, cpu = clock(), time.process_time()
    for _ in range(repeats):
        fn()
    return (clock() - wall) / repeats, (time.process_time() - cpu) / repeats



def main(argv: list[str] | None = None) -> int:
    """`python -m bench.perf.stacked_timing --task quadratic --budget cpu --trials 32`: one line
    of stacked against lone forward + backward seconds."""
    import argparse
    import sys

    from bench.engine.stacked.models import NotStackable
    from bench.errors import UsageError
    from bench.trial.config import parse_settings

    p = argparse.ArgumentParser(prog="python -m bench.perf.stacked_timing", description=__doc__)
    p.add_argument("--task", default="quadratic", help="task name (default: quadratic)")
    p.add_argument("--budget", default="cpu", help="the task's budget (default: cpu)")
    p.add_argument("--trials", type=int, default=8, help="T, trials stacked (default: 8)")
    p.add_argument("--repeats", type=int, default=20, help="timed repeats (default: 20)")
    p.add_argument("--strategy", choices=("native", "vmap", "loop"), default=None,
                   help="how the stacked losses run (default: native where the task has "
                        "it, else the faster of vmap and loop, timed on this device)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", default=[],
                   help="a task option, e.g. --set noise=0.5")
    p.add_argument("--data-dir", default=None, help="the task's data directory")
    p.add_argument("--cache-dir", default=None, help="tokenizer / decoded-data cache")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    args = p.parse_args(argv)
    try:
        if args.trials < 1 or args.repeats < 1 or args.threads < 1:
            raise UsageError("--trials, --repeats and --threads must be >= 1")
        import tasks

        torch.set_num_threads(args.threads)
        task = tasks.create(args.task, args.budget, parse_settings(args.set),
                            data_dir=args.data_dir, cache_dir=args.cache_dir)
        r = time_forward_backward(task, range(args.trials), args.device, args.repeats,
                                  strategy=args.strategy)
    except (UsageError, NotStackable, KeyError, ValueError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"error: {message}", file=sys.stderr)
        return 2
    print(f"{args.task}/{args.budget} T={r.trials} {r.mode}: stacked {r.stacked_s * 1e3:.3f} ms "
          f"wall, {r.stacked_cpu_s * 1e3:.3f} ms CPU; {r.trials} lone {r.lone_s * 1e3:.3f} ms "
          f"wall, {r.lone_cpu_s * 1e3:.3f} ms CPU; lone/stacked CPU "
          f"{r.lone_cpu_s / r.stacked_cpu_s:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
