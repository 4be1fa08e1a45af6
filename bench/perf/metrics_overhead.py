"""Cost of evaluation + constraint metrics relative to training, on the quadratic task at its
`cpu` budget and default eval interval (issue target: under 10% of training time)."""

from __future__ import annotations

import argparse
import tempfile

from bench.config import Trial
from bench.runner import run_trial


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf metrics_overhead")
    parser.add_argument("--budget", default="cpu")
    parser.add_argument("--optimizers", default="adamw,adam_l2,signgd_wd,lion")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for name in args.optimizers.split(","):
            trial = Trial(task="quadratic", optimizer=name, lr=0.05, weight_decay=2.0,
                          schedule="inverse_sqrt", budget=args.budget)
            record = run_trial(trial, out, show_progress=False)
            t = record["timing"]
            train_s = t["step_s"] * t["steps_done"]
            rows.append((name, t["steps_done"], len(record["curve"]), train_s, t["eval_s"],
                         t["eval_s"] / train_s))
    print(f"quadratic, budget {args.budget}: evaluation (val loss, probe gradient, SPEC §3 "
          "metrics, distances to the optima) vs training time\n")
    print(f"{'optimizer':10s} {'steps':>7s} {'evals':>6s} {'train s':>8s} {'eval s':>7s} "
          f"{'overhead':>9s}")
    for name, steps, evals, train_s, eval_s, share in rows:
        print(f"{name:10s} {steps:7d} {evals:6d} {train_s:8.2f} {eval_s:7.3f} {share:9.1%}")
    return 0
