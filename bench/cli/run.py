"""`wdbench run`: one trial, its record printed (or as JSON)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bench.cli import common
from bench.trial import validation
from bench.trial.config import FIELDS, TRIAL_KEYS, parse_settings

PRECISIONS = list(FIELDS["mixed_precision"].choices())
# The `--set` help, from the Trial's declared keys (docs/reference/settings.md explains each).
SET_HELP = (f"a trial key ({', '.join(TRIAL_KEYS)}; tau: the EMA timescale in steps, λ derived "
            "per lr), an optimizer option, or task.NAME=value (wdbench list --task T)")
FINAL_KEYS = ("train_loss", "val_loss", "val_perplexity", "val_accuracy", "test_loss",
              "test_perplexity", "test_accuracy", "linf_ratio", "fw_gap_rel", "kkt_residual",
              "ball_kkt_residual", "boundary_frac", "l2_stationarity", "dist_box", "dist_l2")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run one trial")
    p.add_argument("--task", required=True, help=FIELDS["task"].help)
    p.add_argument("--optimizer", required=True,
                   help="registered name (wdbench list) or module:attr (Optimizer class or "
                        "factory)")
    p.add_argument("--budget", default=None, help="smoke | cpu | full (default: cpu, full on GPU)")
    p.add_argument("--seed", type=int, default=0, help=FIELDS["seed"].help)
    p.add_argument("--set", action="append", metavar="KEY=VALUE", default=[], help=SET_HELP)
    p.add_argument("--mixed-precision", choices=PRECISIONS, default=None,
                   help=f"{FIELDS['mixed_precision'].help} (default: "
                        f"{FIELDS['mixed_precision'].default})")
    p.add_argument("--data-dir", default=None, help="local data directory (offline use)")
    p.add_argument("--out", default="results/runs", help="results directory (ledger)")
    common.add_log_with(p)
    p.add_argument("--json", action="store_true", help="print the final record as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    common.importable_cwd()
    common.check_task(args.task)
    common.check_optimizers([args.optimizer])
    budget = common.resolve_budget(args.budget)
    common.check_budget(args.task, budget)
    settings: dict[str, Any] = {"seed": args.seed, "budget": budget}
    sources = {"seed": "--seed", "budget": "--budget"}
    if args.mixed_precision:
        settings["mixed_precision"] = args.mixed_precision
    given = parse_settings(args.set)
    settings.update(given)
    sources.update({key: "--set" for key in given})
    trial = validation.build(args.task, args.optimizer, settings, sources)
    log_with = common.parse_log_with(args.log_with)
    out = common.check_out(args.out)
    common.ensure_writable(out)
    common.check_data(trial, args.data_dir)

    from accelerate import Accelerator

    from bench.engine.runner import run_trial

    # One Accelerator for the whole command: the runner uses this one, never a second.
    accelerator = Accelerator(mixed_precision=trial.mixed_precision)
    record = run_trial(trial, out, data_dir=args.data_dir,
                       show_progress=not (args.quiet or args.json), accelerator=accelerator,
                       log_with=log_with)
    if accelerator.is_main_process:
        if args.json:
            print(json.dumps(record, default=str))
        else:
            print_record(record)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return 1 if record["status"] == "failed" else 0


def print_record(record: dict[str, Any]) -> None:
    final = record.get("final", {})
    print(f"trial {record['id']}: {record['status']}"
          + (f" at step {record['diverged_at']}" if record.get("diverged_at") else ""))
    for key in FINAL_KEYS:
        if isinstance(final.get(key), float):
            print(f"  {key:17s} {final[key]:.6g}")
    if record.get("error"):
        print(record["error"], file=sys.stderr)
