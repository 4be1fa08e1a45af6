"""`wdbench status OUT`: where a sweep stands, from the results directory alone (records,
claims, plans, submissions) plus `squeue` where SLURM is present (bench/executors/status.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="counts of done/diverged/failed/running/pending trials "
                                      "and who runs what")
    p.add_argument("out", help="results directory of a sweep")
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    p.add_argument("--stale-after-s", type=float, default=300.0,
                   help="a claim without a heartbeat for this long counts as abandoned")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from bench.errors import UsageError

    out = Path(args.out)
    if not (out / "trials").is_dir() and not (out / "plans").is_dir():
        raise UsageError(f"{out} holds no sweep (no trials/ or plans/); pass the --out of a "
                         "sweep")
    from bench.executors.status import collect

    status = collect(out, args.stale_after_s)
    if args.json:
        print(json.dumps(status, indent=1))
        return 0
    c = status["counts"]
    print(f"{status['out']}: {status['total']} trials: {c['done']} done, {c['diverged']} "
          f"diverged, {c['failed']} failed, {c['running']} running, {c['pending']} pending"
          + (f" ({status['queued_in_slurm']} queued in SLURM)" if status["slurm"] else ""))
    for r in status["running"]:
        step = f"step {r['step']}" + (f"/{r['steps']}" if r["steps"] else "")
        if r["group_size"] > 1:
            step += f" (stacked group of {r['group_size']}, {r['diverged']} diverged)"
        if r["evaluating"]:
            step += ", evaluating {} of {}".format(r["evaluating"][0] + 1, r["evaluating"][1])
        print(f"  {r['id']}  host {r['host']} pid {r['pid']}  job {r['job_id'] or '-'}  "
              f"{step}  heartbeat {r['heartbeat_age_s']:.0f} s ago")
    return 0
