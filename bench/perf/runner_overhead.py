"""The runner's own cost per training step on the `cpu`-budget quadratic (20-dim dense, AdamW),
against a bare PyTorch loop on the same model and loss (target: at most 1.10x).

    python -m bench.perf runner_overhead
    python -m bench.perf.runner_overhead --steps 10000 --repeats 7

The bare loop is the least a step can do: `task.loss(model, batch).backward()`,
`torch.optim.AdamW.step()`, `zero_grad(set_to_none=True)`, on one full batch built once; no
schedule, no loss read, no data order. It runs with torch's default AdamW (the for-loop
implementation on CPU: the target's reference) and with `fused=True` (the kernel the
benchmark's adamw steps through), so the table separates the runner from the optimizer.

The runner's step is measured like with like: `bench.engine.runner.run_trial` on the same trial (the
settings of quadratic_short.yaml) at S and 2S steps, both evaluating only at the start and the end
(`eval_every = steps`). The difference of their CPU times, over S, is the cost of S more steps:
setup, the evaluations, the test split and the record cancel out. The record's own train time
per step (`timing.step_s`, evaluation excluded) is shown beside it; it is wall time, which other
processes on a shared machine inflate, so the ratio uses CPU time.

Everything runs on one intra-op thread (as every trial does), so the clock is the thread's CPU
time; repeats alternate bare and runner and the table shows medians.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass, field

import torch

TARGET = 1.10  # runner step / bare step
LR, WEIGHT_DECAY, BETAS = 0.05, 2.0, (0.9, 0.99)  # quadratic_short.yaml's adamw


@dataclass
class Timings:
    bare: list[float] = field(default_factory=list)  # CPU s per step, torch's default AdamW
    bare_fused: list[float] = field(default_factory=list)  # the same with fused=True
    runner: list[float] = field(default_factory=list)  # CPU s per step, differential
    step_s: list[float] = field(default_factory=list)  # the record's timing.step_s (wall)


def bare_step(steps: int, seed: int = 0, fused: bool = False) -> float:
    """Thread CPU seconds per step of the bare loop."""
    import tasks

    task = tasks.create("quadratic", "cpu", {})
    model = task.build_model(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY, betas=BETAS,
                            fused=fused or None)
    batch = task.collate([task.train_dataset()[i] for i in range(task.budget.batch_size)])
    start = time.thread_time()
    for _ in range(steps):
        task.loss(model, batch).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return (time.thread_time() - start) / steps


def runner_run(steps: int, seed: int = 0) -> tuple[float, float]:
    """(thread CPU seconds of a whole run_trial of `steps` steps, its record's step_s)."""
    from bench.engine.runner import run_trial
    from bench.trial.config import Trial

    trial = Trial(task="quadratic", optimizer="adamw", lr=LR, weight_decay=WEIGHT_DECAY,
                  schedule="inverse_sqrt", seed=seed, budget="cpu", steps=steps,
                  eval_every=steps, optimizer_options=(("betas", BETAS),))
    with tempfile.TemporaryDirectory() as out:
        start = time.thread_time()
        record = run_trial(trial, out, show_progress=False)
        cpu = time.thread_time() - start
    if record["status"] != "done":
        raise RuntimeError(f"the timed trial ended {record['status']}: {record['error']}")
    return cpu, record["timing"]["step_s"]


def measure(steps: int, repeats: int) -> Timings:
    t = Timings()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        bare_step(min(steps, 500))  # warm-up: imports, allocator, first-call dispatch
        runner_run(min(steps, 500))
        for _ in range(repeats):
            t.bare.append(bare_step(steps))
            t.bare_fused.append(bare_step(steps, fused=True))
            short, _ = runner_run(steps)
            long, step_s = runner_run(2 * steps)
            t.runner.append((long - short) / steps)
            t.step_s.append(step_s)
    finally:
        torch.set_num_threads(threads)
    return t


def table(t: Timings) -> str:
    from bench.perf import markdown_table

    bare, runner = statistics.median(t.bare), statistics.median(t.runner)
    fused = statistics.median(t.bare_fused)
    ratio = runner / bare
    header = ("loop", "µs/step (CPU)", "vs bare", f"<= {TARGET:.2f}x")
    rows = [("bare torch loop (AdamW)", f"{bare * 1e6:.0f}", "1.00", ""),
            ("bare torch loop (AdamW, fused)", f"{fused * 1e6:.0f}", f"{fused / bare:.2f}", ""),
            ("bench.engine.runner.run_trial", f"{runner * 1e6:.0f}", f"{ratio:.2f}",
             "yes" if ratio <= TARGET else "no")]
    return (markdown_table(header, rows) + "\n\nThe record's timing.step_s (wall, the 2S run): "
            f"{statistics.median(t.step_s) * 1e6:.0f} µs")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf.runner_overhead",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=_positive, default=5000,
                        help="S: the bare loop runs S steps, the runner S and 2S (default 5000)")
    parser.add_argument("--repeats", type=_positive, default=5,
                        help="timed repeats; the table shows medians (default 5)")
    args = parser.parse_args(argv)
    t = measure(args.steps, args.repeats)
    print(f"quadratic (cpu budget: 20-dim dense), adamw, S = {args.steps} steps, one thread, "
          f"median of {args.repeats} repeats (thread CPU time), torch {torch.__version__}\n")
    print(table(t))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
