"""WikiText training throughput at the `cpu` budget: the runner against a minimal hand-written
PyTorch loop over the same model, data and optimizer, in one run; model FLOP/s and their share
of the machine's matmul peak (measured in the same run); and the speedup of bf16 autocast.

Model FLOPs per token are counted from the architecture (6 x matmul parameters incl. the output
projection, plus attention scores and values; see tasks.lm_model.LMShape.flops_per_token).

With one thread (the default) the clock is the thread's CPU time, which other processes on a
shared machine barely disturb; the runner's own step timer is switched to the same clock. With
more threads it is wall time. The runner pays its loss bookkeeping (read every step on CPU,
where it is free; on a GPU every 50 steps, bench/engine/divergence.py), its data sampler and
scheduler, and evaluations (validation + probe gradient) at the budget's default interval:
reported separately as "incl. metrics".
"""

from __future__ import annotations

import argparse
import tempfile
import time
from types import SimpleNamespace
from unittest import mock

import torch
from accelerate.utils import send_to_device

import optimizers
import tasks
from bench.perf import markdown_table
from tasks.data import DataUnavailable

LR, WEIGHT_DECAY = 3e-3, 0.1
TARGET = 0.10  # the runner may cost at most 10% more per training step than the plain loop


def matmul_peak(dtype: torch.dtype, clock, sizes=(512, 1024, 2048), repeats: int = 3,
                device: str = "cpu") -> float:
    """Best FLOP/s of square matmuls: the machine's practical peak for this thread count
    (on a GPU, `clock` must synchronize)."""
    best = 0.0
    for n in sizes:
        a, b = (torch.randn(n, n).to(device, dtype) for _ in range(2))
        torch.mm(a, b)  # warm-up (oneDNN kernel selection)
        for _ in range(repeats):
            start = clock()
            torch.mm(a, b)
            best = max(best, 2 * n ** 3 / max(clock() - start, 1e-9))
    return best


def plain_loop(task, steps: int, clock, bf16: bool = False, warmup: int = 3,
               device: str = "cpu") -> float:
    """Seconds per step of the shortest honest loop: same model, decay groups, optimizer
    (the registry's adamw) and batches as the runner; no evaluation, no bookkeeping (on a
    GPU, `clock` must synchronize; the loss is read only on CPU, where it costs nothing)."""
    model = task.build_model(0).to(device)
    mask = task.decay_mask(model, task.default_mask)
    named = dict(model.named_parameters())
    groups = [{"params": [p for n, p in named.items() if mask[n]], "weight_decay": WEIGHT_DECAY},
              {"params": [p for n, p in named.items() if not mask[n]], "weight_decay": 0.0}]
    opt = optimizers.create("adamw", groups, lr=LR, weight_decay=WEIGHT_DECAY)
    data = task.train_dataset()
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    batch_size = task.budget.batch_size
    elapsed = 0.0
    for step in range(warmup + steps):
        start = clock()
        idx = order[(step * batch_size) % (len(order) - batch_size):][:batch_size]
        batch = task.collate([data[int(i)] for i in idx])
        batch = send_to_device(batch, device, non_blocking=True)
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=bf16):
            loss = task.loss(model, batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device == "cpu":
            loss.item()
        if step >= warmup:
            elapsed += clock() - start
    return elapsed / steps


def runner_timing(task_options: dict, budget: str, steps: int, data_dir: str | None,
                  clock, mixed_precision: str = "no", cache_dir: str | None = None) -> dict:
    """The runner's record timing for one adamw trial of `steps` steps (evaluations at the
    budget's default interval), timed with `clock`."""
    from bench.engine.runner import run_trial
    from bench.trial.config import Trial

    trial = Trial(task="wikitext", optimizer="adamw", lr=LR, weight_decay=WEIGHT_DECAY,
                  budget=budget, steps=steps, mixed_precision=mixed_precision).with_settings(
                      {f"task.{k}": v for k, v in task_options.items()})
    # The runner reads time.perf_counter for its step timer: give it the same clock.
    with tempfile.TemporaryDirectory() as out, \
            mock.patch("bench.engine.runner.time", SimpleNamespace(perf_counter=clock)):
        record = run_trial(trial, out, data_dir=data_dir, cache_dir=cache_dir,
                           show_progress=False)
    if record["status"] != "done":
        raise RuntimeError(f"runner trial {record['status']}: {record.get('error')}")
    return record["timing"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf.wikitext_step",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="cpu")
    parser.add_argument("--steps", type=int, default=None,
                        help="training steps per measurement (default: the budget's)")
    parser.add_argument("--bf16-steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: CPU-time clock)")
    parser.add_argument("--data-dir", default=None,
                        help="WikiText files (default $WDBENCH_DATA_WIKITEXT, else the hub)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="task option, e.g. --set layers=2")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    clock = time.thread_time if args.threads == 1 else time.perf_counter
    from bench.trial.config import parse_settings

    options = parse_settings(args.set)
    try:
        task = tasks.create("wikitext", args.budget, options, data_dir=args.data_dir)
        task.token_ids  # noqa: B018 - tokenizer and ids cached before any timing
    except DataUnavailable as err:
        print(f"skipped: {err}")
        return 0
    steps = args.steps or task.budget.steps
    tokens = task.budget.batch_size * task.seq_len
    flops = task.shape.flops_per_token()
    peak32, peak16 = matmul_peak(torch.float32, clock), matmul_peak(torch.bfloat16, clock)

    plain = plain_loop(task, steps, clock)
    timing = runner_timing(options, args.budget, steps, args.data_dir, clock)
    torch.set_num_threads(args.threads)  # in case Accelerate changed it
    runner_step = timing["step_s"]
    runner_all = (timing["step_s"] * timing["steps_done"] + timing["eval_s"]) / steps
    plain32 = plain_loop(task, args.bf16_steps, clock)
    plain16 = plain_loop(task, args.bf16_steps, clock, bf16=True)

    clock_name = "thread CPU time" if args.threads == 1 else "wall time"
    n_params = sum(p.numel() for p in task.build_model(0).parameters())
    print(f"wikitext `{args.budget}` budget: {n_params / 1e6:.2f}M parameters, "
          f"{task.budget.batch_size} x {task.seq_len} tokens per step, {steps} steps, "
          f"{args.threads} thread(s), {clock_name}; data {task.corpus.source}; "
          f"torch {torch.__version__}")
    print(f"matmul peak (best square mm, same run): fp32 {peak32 / 1e9:.1f} GFLOP/s, "
          f"bf16 {peak16 / 1e9:.1f} GFLOP/s; model {flops / 1e6:.2f} MFLOP per token\n")

    def row(name: str, seconds: float, peak: float, ref: float | None) -> tuple[str, ...]:
        rate = flops * tokens / seconds
        return (name, f"{seconds * 1e3:.0f}", f"{tokens / seconds:,.0f}", f"{rate / 1e9:.1f}",
                f"{rate / peak:.0%}", "" if ref is None else f"{seconds / ref - 1:+.1%}")

    header = ("loop", "ms/step", "tokens/s", "GFLOP/s", "of peak", "vs plain")
    print(markdown_table(header, [
        row("plain PyTorch loop (fp32)", plain, peak32, None),
        row("runner, training steps", runner_step, peak32, plain),
        row("runner, incl. metrics at default interval", runner_all, peak32, plain),
    ]))
    overhead = runner_step / plain - 1
    print(f"\nrunner overhead per training step: {overhead:+.1%} "
          f"({'within' if overhead <= TARGET else 'OVER'} the {TARGET:.0%} target)\n")
    print(markdown_table(("autocast", "ms/step", "tokens/s", "speedup"), [
        ("fp32", f"{plain32 * 1e3:.0f}", f"{tokens / plain32:,.0f}", "1.00x"),
        ("bf16", f"{plain16 * 1e3:.0f}", f"{tokens / plain16:,.0f}", f"{plain32 / plain16:.2f}x"),
    ]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
