"""The results ledger: one JSON file per finished trial, written atomically.

Layout of a results directory:
    trials/<id>.json        the record of a finished trial (status done | diverged | failed)
    checkpoints/<id>/       mid-trial state of an unfinished trial (removed when it finishes)

A record is written to a temp file in the same directory, fsynced, then renamed: a killed
process leaves either the whole record or none. Resuming a sweep = skipping ids that have a
record. The report reads only these files.

Record schema (version 2; `migrate` maps version-1 records to it when they are read):
    id, schema, suite, code_fingerprint (bench/ledger/fingerprint.py: 'harness+optimizer')
    config      the Trial's fields (declared in bench/trial/config.py: task, optimizer, lr,
                weight_decay, tau, schedule, ..., optimizer_options, task_options)
    status      'done' | 'diverged' | 'failed';  diverged_at (step) ;  error (traceback)
    optimizer   decay (the style used), direction, norm, radius (implied l_inf radius or
                null), metric_radius, lr_max, source
    schedule    name, schedule_theorem (non-increasing with divergent sum)
    mask        policy (resolved: the task's default where config.mask is null), decayed,
                undecayed (tensor counts), decayed_numel, undecayed_numel
    task        data_source, data_fingerprint, n_params, options, selection_metric, ...
    final       metric -> value at the end (train_loss, val_*, test_*, SPEC §3 metrics, ...)
    best        metric -> best value over evaluations, and '<metric>_step'
    per_tensor  tensor name -> SPEC §3 metrics at the end (decayed tensors)
    curve       list of {step, metric -> value} at each evaluation
    kkt_start   the step-0 probe's Frank-Wolfe gap terms, which kkt_residual and
                ball_kkt_residual divide by: {box, ball} -> tensor -> [<g0, x0>, N*(g0)], so
                fw_gap(x_0; r) = Σ inner + r·dual at any radius (bench/measures/kkt.py); null
                where the trial failed before its first probe or resumed from an older checkpoint
    timing      wall_s, step_s, steps_done, tokens_per_s (where a task counts tokens); in a
                stacked group the member's share of the group's training seconds
    stacked     only where the trial ran in a stacked group (bench/engine/stacked): group (id),
                size, index
    env         wdbench, torch, cuda, device, num_processes, git_rev, python, date
Version 1 differed only in names: optimizer.decay_style, schedule.theorem_conditions, and
no code_fingerprint.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.trial.config import Trial

from bench import input_files
from bench.ledger import record_types
from bench.ledger.shared_files import write_text
from bench.trial.config import COLUMNS, FIELDS, config_key
from bench.trial.fields import VARIANT

SCHEMA_VERSION = 2
RECORD_KEYS = ("id", "config", "status")
STATUSES = ("done", "diverged", "failed")
DAMAGED_DIR = "damaged"
MAX_RECORD_BYTES = 1 << 30  # a bound, far above any record (a FIFO or /dev/zero is refused)
# The Trial fields that are columns of the flat table, and those that are not part of a
# configuration's name beyond its own columns (the rest, e.g. the schedule or optimizer
# options, go to config_extra and can make a report 'variant'), as each field declares
# (bench/trial/config.py).
CONFIG_COLUMNS = COLUMNS
NOT_CONFIG = {f.name for f in FIELDS.values() if f.role != VARIANT}


def migrate(record: dict[str, Any]) -> dict[str, Any]:
    """A record of any earlier schema version in the current one (a new dict)."""
    record = dict(record)
    if record.get("schema", 1) < 2:
        opt = dict(record.get("optimizer") or {})
        if "decay_style" in opt:
            opt["decay"] = opt.pop("decay_style")
        sched = dict(record.get("schedule") or {})
        if "theorem_conditions" in sched:
            sched["schedule_theorem"] = sched.pop("theorem_conditions")
        record.update(optimizer=opt, schedule=sched, schema=2)
        record.setdefault("code_fingerprint", None)
    return record


class Ledger:
    """The trial records under one results directory."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.trials_dir = self.root / "trials"
        self.checkpoints_dir = self.root / "checkpoints"

    def path(self, trial_id: str) -> Path:
        return self.trials_dir / f"{trial_id}.json"

    def has(self, trial_id: str) -> bool:
        return self.path(trial_id).exists()

    def checkpoint_dir(self, trial_id: str) -> Path:
        return self.checkpoints_dir / trial_id

    def write(self, record: dict[str, Any]) -> Path:
        """Atomically write a finished trial's record (replaces an older one with the same id)."""
        self.trials_dir.mkdir(parents=True, exist_ok=True)
        target = self.path(record["id"])
        text = json.dumps(_finite(record), indent=1, sort_keys=True, default=str)
        return write_text(target, text)

    def read(self, trial_id: str) -> dict[str, Any]:
        """The record (ValueError naming the file where it is damaged)."""
        return read_record(self.path(trial_id))

    def records(self) -> list[dict[str, Any]]:
        """Every readable record; a damaged one is skipped with a one-line warning."""
        if not self.trials_dir.is_dir():
            return []
        out = []
        for path in sorted(self.trials_dir.glob("[!.]*.json")):
            try:
                out.append(read_record(path))
            except ValueError as err:
                print(f"wdbench: warning: {err}; skipped", file=sys.stderr)
        return out

    def set_aside(self, trial_id: str) -> Path:
        """Move a damaged record to trials/damaged/ (kept for inspection, no longer read),
        so that its trial runs again."""
        target = self.trials_dir / DAMAGED_DIR / f"{trial_id}.{int(time.time())}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path(trial_id), target)
        return target

    def finished_ids(self, trials: Iterable[Any], rerun_stale: bool = True) -> set[str]:
        """Ids of `trials` that have a done or diverged record made by the current code (with
        rerun_stale False: any record). A stale record's trial runs again and its record is
        replaced."""
        from bench.ledger.fingerprint import of_trial

        ids = self.ids()
        current: dict[tuple[str, str], str] = {}
        out = set()
        for trial in trials:
            if trial.id not in ids:
                continue
            if not rerun_stale:
                out.add(trial.id)
                continue
            key = (trial.task, trial.optimizer)
            if key not in current:
                current[key] = str(of_trial(*key))
            try:
                record = self.read(trial.id)
            except ValueError as err:
                moved = self.set_aside(trial.id)
                print(f"wdbench: warning: {err}; moved to {moved}, the trial runs again",
                      file=sys.stderr)
                continue
            # A failed trial (an exception inside a valid trial) is tried again; a diverged
            # one is a result.
            if is_fresh(record, current[key]) and record["status"] != "failed":
                out.add(trial.id)
        return out

    def is_finished(self, trial: Trial) -> bool:
        """The one test of "this trial needs no run": it has a record made by the current
        code (a stale record's trial runs again and its record is replaced;
        bench/ledger/fingerprint.py)."""
        return trial.id in self.finished_ids([trial])

    def pending(self, trials: list[Trial]) -> list[Trial]:
        """The `trials` that still need a run, in their order."""
        done = self.finished_ids(trials)
        return [t for t in trials if t.id not in done]

    def ids(self) -> set[str]:
        if not self.trials_dir.is_dir():
            return set()
        return {p.stem for p in self.trials_dir.glob("[!.]*.json")}


def read_record(path: Path) -> dict[str, Any]:
    """A record file in the current schema; ValueError naming the file when it does not parse
    or is not a record (truncated by a full disk, edited by hand, another program's file)."""
    try:
        record = json.loads(input_files.read_text(path, MAX_RECORD_BYTES))
    except (OSError, UnicodeDecodeError, ValueError) as err:  # JSONDecodeError, Unreadable
        raise ValueError(f"damaged record {path} ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''})") from None
    missing = [k for k in RECORD_KEYS if not isinstance(record, dict) or k not in record]
    schema = record.get("schema", 1) if isinstance(record, dict) else None
    if missing or not isinstance(schema, int) or not 1 <= schema <= SCHEMA_VERSION:
        raise ValueError(f"damaged record {path} (not a wdbench record of schema <= "
                         f"{SCHEMA_VERSION}: " + (f"no {', '.join(missing)})" if missing
                                                 else f"schema {schema!r})"))
    if not isinstance(record["config"], dict) or record["status"] not in STATUSES:
        raise ValueError(f"damaged record {path} (config or status of the wrong type)")
    wrong = record_types.problem(record)
    if wrong:
        raise ValueError(f"damaged record {path} ({wrong})")
    return migrate(record)


def is_fresh(record: dict[str, Any], fingerprint: str) -> bool:
    """The record was made by the code whose fingerprint is given (records from before
    fingerprints existed never are)."""
    return record.get("code_fingerprint") == fingerprint


def _finite(value: Any) -> Any:
    """JSON has no NaN/inf: store them as null (a diverged trial's loss is recorded as such)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _records(dirs: Iterable[str | os.PathLike]) -> list[dict[str, Any]]:
    out = []
    for d in dirs:
        out.extend(Ledger(d).records())
    return out


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """One row per trial, named as bench/schema.py names the columns: config, the resolved
    decay/mask/schedule facts, final metrics, best_*, timing and env_* provenance."""
    record = migrate(record)
    cfg = record.get("config") or {}
    row: dict[str, Any] = {"id": record["id"], "status": record["status"],
                           "suite": record.get("suite"),
                           "code_fingerprint": record.get("code_fingerprint")}
    row.update({k: cfg.get(k, FIELDS[k].default) for k in CONFIG_COLUMNS})
    row["config_key"] = config_key(cfg)  # the (configuration, seed) it is a sample of
    opt = record.get("optimizer") or {}
    row.update({k: opt.get(k) for k in ("decay", "direction", "norm", "radius",
                                         "metric_radius")})
    row["schedule_theorem"] = (record.get("schedule") or {}).get("schedule_theorem")
    row.update({k: (record.get("timescale") or {}).get(k)
                for k in ("tau_iter", "tau_epoch", "steps_per_epoch")})
    lr, wd = cfg.get("lr"), cfg.get("weight_decay")
    row["lr_wd"] = lr * wd if isinstance(lr, (int, float)) and isinstance(wd, (int, float)) \
        else None
    row["diverged_at"] = record.get("diverged_at")
    row["error"] = record.get("error")
    stacked = record.get("stacked") or {}  # absent: the trial ran alone
    row["stack_group"], row["stack_size"] = stacked.get("group"), stacked.get("size")
    task = record.get("task") or {}
    for key in ("data_fingerprint", "data_source", "n_params", "selection_metric",
                "selection_mode"):
        row[key] = task.get(key)
    row["headline_figure"] = task.get("headline_figure")
    target = record.get("target") or {}
    row["target"] = target.get("value")
    row["target_reached"] = target.get("reached")
    timing = record.get("timing") or {}
    # JSON has no infinity: a target never reached is stored as null with reached = false.
    for key, value in (("steps_to_target", target.get("steps_to_target")),
                       ("time_to_target_s", timing.get("time_to_target_s"))):
        row[key] = None if not target else value if target.get("reached") else math.inf
    mask = record.get("mask") or {}
    row["mask"] = mask.get("policy") or cfg.get("mask")  # resolved; null only pre-build
    row["mask_decayed"] = mask.get("decayed")
    row["mask_undecayed"] = mask.get("undecayed")
    extra = {k: v for k, v in cfg.items() if k not in NOT_CONFIG}
    extra.update({f.name: f.normal(f.default) for f in FIELDS.values()  # an older record's
                  if f.role == VARIANT and f.name not in cfg})        # missing field
    row["config_extra"] = json.dumps(extra, sort_keys=True, default=str)
    # A final metric named like a config column (the runner records the last scheduled 'lr')
    # must not overwrite the config value: it becomes final_<name>.
    # Per-tensor maps of a curve point (the rotation's) stay in the curve: scalars only here.
    row.update({(f"final_{k}" if k in row else k): v
                for k, v in (record.get("final") or {}).items() if not isinstance(v, dict)})
    row.update({f"best_{k}": v for k, v in (record.get("best") or {}).items()})
    row.update({k: v for k, v in timing.items()
                if k != "time_to_target_s" and not isinstance(v, list)})
    env = record.get("env") or {}
    row.update({f"env_{k}": v for k, v in env.items()})
    return row


def load_trials(*dirs: str | os.PathLike):
    """All records of the given results directories as a pandas DataFrame, one row a trial."""
    import pandas as pd

    return pd.DataFrame([flatten(r) for r in _records(dirs)])


def load_curves(*dirs: str | os.PathLike):
    """Long table of every evaluation: id, step, and metric columns."""
    import pandas as pd

    rows = [{"id": r["id"], **point} for r in _records(dirs) for point in r.get("curve", [])]
    return pd.DataFrame(rows)


def load_per_tensor(*dirs: str | os.PathLike):
    """Final per-tensor constraint metrics: id, tensor, metric columns."""
    import pandas as pd

    rows = [{"id": r["id"], "tensor": name, **metrics}
            for r in _records(dirs) for name, metrics in r.get("per_tensor", {}).items()]
    return pd.DataFrame(rows)
