"""Executor settings, named once: the CLI flags, a suite's `executor:` mapping and an
`--executor-config FILE` all fill the same dataclass (later sources override earlier ones:
budget defaults < suite < file < command line)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bench.errors import UsageError

# SLURM's warning before a task's time limit (submitit's signal_delay_s): the task then
# checkpoints and requeues (bench/executors/slurm.py).
REQUEUE_WARNING_S = 90

KINDS = ("local", "slurm")

# Resources a trial asks for by default, per budget: `full` is the GPU budget.
BUDGET_RESOURCES: dict[str, dict[str, Any]] = {
    "smoke": {"cpus": 1, "mem_gb": 2.0, "gpus": 0, "time_min": 10},
    "cpu": {"cpus": 1, "mem_gb": 4.0, "gpus": 0, "time_min": 120},
    "full": {"cpus": 8, "mem_gb": 32.0, "gpus": 1, "time_min": 24 * 60},
}


@dataclass(frozen=True)
class ExecutorOptions:
    """Where and with what resources a sweep runs its trials. None: the budget's default."""

    kind: str = "local"
    partition: str | None = None  # None: the cluster's default partition
    time_min: int | None = None  # time limit of one array task (all its packed trials)
    cpus: int | None = None  # CPUs per process
    mem_gb: float | None = None  # memory per trial (per node)
    gpus: int | None = None  # GPUs per trial (one node)
    processes: int = 1  # DDP processes per trial (SLURM tasks of one job)
    array_parallelism: int = 64  # array tasks running at once
    trials_per_job: int = 1  # trials packed into one array task, run one after another
    sbatch: dict[str, Any] = field(default_factory=dict)  # extra sbatch options, e.g. {qos: x}
    max_requeues: int = 3  # timeouts/preemptions one array task may be requeued for
    heartbeat_s: float = 10.0  # how often a running trial refreshes its claim
    stale_after_s: float = 300.0  # a claim without a heartbeat for this long is taken over
    poll_s: float = 2.0  # how often a waiting sweep looks at the ledger and the queue
    # Trials per stacked group (bench/engine/stacked; 1: no stacking). Memory of a group: the
    # model's bytes x T plus the optimizer state's, plus T trials' activations.
    stack_size: int = 64

    def with_budget_defaults(self, budget: str) -> ExecutorOptions:
        """Fill the unset resources from the budget's defaults."""
        base = BUDGET_RESOURCES.get(budget, BUDGET_RESOURCES["cpu"])
        return replace(self, **{k: v for k, v in base.items() if getattr(self, k) is None})

    @classmethod
    def from_args(cls, args: argparse.Namespace, suite_mapping: dict[str, Any] | None = None,
                  where: str = "suite") -> ExecutorOptions:
        """Merge suite `executor:` mapping < --executor-config FILE < explicit CLI flags."""
        merged: dict[str, Any] = {}
        merged.update(parse_mapping(suite_mapping or {}, where))
        config = getattr(args, "executor_config", None)
        if config:
            merged.update(parse_mapping(_load_file(config), config))
        for key in (f.name for f in fields(cls)):
            value = getattr(args, f"executor_{key}", None)
            if value is not None:
                merged[key] = value
        if getattr(args, "executor", None):
            merged["kind"] = args.executor
        if getattr(args, "executor_no_stack", False):
            merged["stack_size"] = 1
        options = cls(**merged)
        options.validate()
        return options

    def validate(self) -> None:
        if self.kind not in KINDS:
            raise UsageError(f"unknown executor {self.kind!r}; use one of: {', '.join(KINDS)}")
        for name in ("processes", "array_parallelism", "trials_per_job", "max_requeues",
                     "stack_size"):
            if getattr(self, name) < (0 if name == "max_requeues" else 1):
                raise UsageError(f"executor {name} must be >= 1 (got {getattr(self, name)})")
        for name in ("time_min", "cpus", "mem_gb"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise UsageError(f"executor {name} must be > 0 (got {value})")
        if self.time_min is not None and self.time_min * 60 <= REQUEUE_WARNING_S:
            raise UsageError(f"--time-min {self.time_min} leaves no time before the requeue "
                             f"warning, sent {REQUEUE_WARNING_S} s before the time limit: every "
                             f"task would be requeued before it ran; use --time-min "
                             f"{REQUEUE_WARNING_S // 60 + 1} or more (e.g. 60)")
        if self.gpus is not None and self.gpus < 0:
            raise UsageError(f"executor gpus must be >= 0 (got {self.gpus})")
        if self.kind == "local" and self.processes > 1:
            raise UsageError("executor processes > 1 needs --executor slurm; on one machine "
                             "use `accelerate launch --num_processes N -m bench run ...`")


FIELD_TYPES = {"kind": str, "partition": str, "time_min": int, "cpus": int, "mem_gb": float,
               "gpus": int, "processes": int, "array_parallelism": int, "trials_per_job": int,
               "sbatch": dict, "max_requeues": int, "heartbeat_s": float,
               "stale_after_s": float, "poll_s": float, "stack_size": int}


def parse_mapping(data: Any, where: str) -> dict[str, Any]:
    """Check an executor mapping's keys and value types; one-line errors naming the source."""
    if not isinstance(data, dict):
        raise UsageError(f"{where}: executor settings must be a mapping such as "
                         "{partition: gpu, time_min: 60}")
    out: dict[str, Any] = {}
    for key, value in data.items():
        kind = FIELD_TYPES.get(key)
        if kind is None:
            raise UsageError(f"{where}: unknown executor key {key!r}; use one of: "
                             f"{', '.join(FIELD_TYPES)}")
        if value is None:
            continue
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise UsageError(f"{where}: executor key {key!r} must be a {kind.__name__} "
                             f"(got {value!r})")
        out[key] = dict(value) if kind is dict else value
    return out


def _load_file(path: str) -> Any:
    import yaml

    from bench.trial import yaml_loader
    try:
        return yaml_loader.load(Path(path).read_text()) or {}
    except OSError as err:
        raise UsageError(f"cannot read --executor-config {path} ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise UsageError(f"{path}: malformed YAML ({getattr(err, 'problem', err)})") from None


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """The sweep's executor flags; each overrides the suite's `executor:` and the config file."""
    g = parser.add_argument_group("executor (where trials run)")
    g.add_argument("--executor", choices=KINDS, default=None,
                   help="local processes (default) or a SLURM job array")
    g.add_argument("--executor-config", default=None, metavar="FILE",
                   help="YAML mapping of executor settings (same keys as a suite's executor:)")
    g.add_argument("--partition", dest="executor_partition", default=None, metavar="NAME",
                   help="SLURM partition (default: the cluster's default)")
    g.add_argument("--time-min", dest="executor_time_min", type=int, default=None, metavar="MIN",
                   help="time limit of one array task in minutes (default from the budget)")
    g.add_argument("--cpus", dest="executor_cpus", type=int, default=None, metavar="N",
                   help="CPUs per process (default from the budget)")
    g.add_argument("--mem-gb", dest="executor_mem_gb", type=float, default=None, metavar="GB",
                   help="memory per trial in GB (default from the budget)")
    g.add_argument("--gpus", dest="executor_gpus", type=int, default=None, metavar="N",
                   help="GPUs per trial (default: 1 for budget full, else 0)")
    g.add_argument("--processes", dest="executor_processes", type=int, default=None, metavar="N",
                   help="DDP processes per trial, as SLURM tasks of one job (default 1)")
    g.add_argument("--array-parallelism", dest="executor_array_parallelism", type=int, metavar="N",
                   default=None, help="array tasks running at once (default 64)")
    g.add_argument("--trials-per-job", dest="executor_trials_per_job", type=int, default=None,
                   metavar="N", help="trials packed into one array task, to amortize job start-up")
    g.add_argument("--stack-size", dest="executor_stack_size", type=int, default=None,
                   metavar="N", help="at most N trials per stacked group: trials that differ "
                   "only in lr, weight_decay and seed train in one process, one tensor op "
                   "for all (default 64; memory: model bytes x N plus optimizer state)")
    g.add_argument("--no-stack", dest="executor_no_stack", action="store_true",
                   help="run every trial on its own (no stacked groups; same as "
                        "--stack-size 1)")
    g.add_argument("--detach", action="store_true",
                   help="with --executor slurm: print the job id and return after submitting")
