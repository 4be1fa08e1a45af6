"""Cost of evaluation + constraint metrics relative to training (issue target: under 10% of
training time), and of the per-norm geometry metrics alone (singular values at evaluation points;
issue 13's target: under 5% of a run).

    python -m bench.perf metrics_overhead                         # quadratic, cpu budget
    python -m bench.perf.metrics_overhead --task wikitext --optimizers adamw,muon \
        --data-dir ../shared/data/wikitext-2-v1-heldout
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from typing import Any

# Per task: the trial settings the overhead is measured at (the suites' own).
SETTINGS: dict[str, dict[str, Any]] = {
    "quadratic": {"lr": 0.05, "weight_decay": 2.0, "schedule": "inverse_sqrt"},
    "matrix_quadratic": {"lr": 0.05, "weight_decay": 2.0, "schedule": "inverse_sqrt"},
    "wikitext": {"lr": 1e-2, "weight_decay": 0.1, "schedule": "warmup_cosine", "warmup": 10},
}


def geometry_cost(trial: Any, data_dir: str | None, repeats: int = 5) -> float:
    """Seconds one evaluation point spends in the per-norm metrics (`geometry_record`: singular
    values of the decayed matrices and their probe gradients), at the trial's initial point."""
    from accelerate import Accelerator

    from bench.engine import runner
    from bench.measures import geometry
    ctx = runner.build(trial, Accelerator(), data_dir)
    model = ctx.accelerator.unwrap_model(ctx.model)
    for batch in ctx.probe:
        (ctx.task.loss(model, batch) / len(ctx.probe)).backward()
    params = {n: p.detach() for n, p in ctx.decayed.items()}
    grads = {n: p.grad.detach() for n, p in ctx.decayed.items() if p.grad is not None}
    radius = ctx.metric_radius or 1.0

    def once() -> None:
        geometry.geometry_record(ctx.mask_info["geometry"], params, grads, radius)

    once()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        once()
    return (time.perf_counter() - start) / repeats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf.metrics_overhead")
    parser.add_argument("--task", default="quadratic", choices=sorted(SETTINGS),
                        help="task whose `--budget` run is timed")
    parser.add_argument("--budget", default="cpu", help="task budget (default cpu)")
    parser.add_argument("--optimizers", default="adamw,adam_l2,signgd_wd,lion",
                        help="comma-separated registered optimizers")
    parser.add_argument("--data-dir", default=None, help="local data for real tasks (wikitext)")
    parser.add_argument("--geometry-only", action="store_true",
                        help="skip the timed runs: only the per-norm metrics' cost per evaluation")
    args = parser.parse_args(argv)
    import torch

    from bench.engine.runner import run_trial
    from bench.trial.config import Trial

    # Tiny problems: extra threads only add synchronisation (as in a --workers sweep).
    threads = torch.get_num_threads()
    if args.task != "wikitext":
        torch.set_num_threads(1)
    if args.geometry_only:
        for name in args.optimizers.split(","):
            trial = Trial(task=args.task, optimizer=name, budget=args.budget,
                          **SETTINGS[args.task])
            print(f"{name}: per-norm metrics {geometry_cost(trial, args.data_dir):.4f} s "
                  "per evaluation point")
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for name in args.optimizers.split(","):
            trial = Trial(task=args.task, optimizer=name, budget=args.budget,
                          **SETTINGS[args.task])
            record = run_trial(trial, out, data_dir=args.data_dir, show_progress=False)
            if record["status"] != "done":
                raise SystemExit(f"{name}: trial {record['status']}: {record['error']}")
            t = record["timing"]
            train_s = t["step_s"] * t["steps_done"]
            evals = len(record["curve"]) + 1  # + the final per-tensor probe
            geo = geometry_cost(trial, args.data_dir) * evals
            rows.append((name, t["steps_done"], evals, train_s, t["eval_s"],
                         t["eval_s"] / train_s, geo, geo / t["wall_s"]))
    torch.set_num_threads(threads)
    print(f"{args.task}, budget {args.budget}: evaluation (val loss, probe gradient, SPEC §3 "
          "metrics, task metrics) vs training time; the per-norm geometry metrics' share of "
          "the run's wall time\n")
    print(f"{'optimizer':10s} {'steps':>7s} {'evals':>6s} {'train s':>8s} {'eval s':>7s} "
          f"{'overhead':>9s} {'geometry s':>11s} {'of run':>7s}")
    for name, steps, evals, train_s, eval_s, share, geo, geo_share in rows:
        print(f"{name:10s} {steps:7d} {evals:6d} {train_s:8.2f} {eval_s:7.3f} {share:9.1%} "
              f"{geo:11.3f} {geo_share:7.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
