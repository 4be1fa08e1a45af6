"""Which pending trials of a sweep run together as one stacked group (issue #14).

Trials stack when they are equal in everything but lr, weight_decay (or tau) and seed (same task,
optimizer, options, budget, schedule, steps, ...): each member then differs only in numbers
the stacked optimizer takes per trial and in its own init and data order. A group holds at
most `stack_size` trials; a trial that cannot stack runs alone as before, and `plan` says why
(once per reason, with a count).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench import input_files
from bench.trial.config import Trial

# What may differ inside a group: a `tau` trial carries the λ its τ gives at its lr.
PER_MEMBER = ("lr", "weight_decay", "tau", "seed")
MANIFEST = "members.json"  # a group checkpoint's member ids (bench/engine/stacked/checkpoint.py)


@dataclass(frozen=True)
class Group:
    """Trials run in one process as one stacked model."""

    trials: tuple[Trial, ...]

    @property
    def id(self) -> str:
        """'g' + a hash of the member ids: the name of the group's checkpoint directory."""
        blob = ",".join(t.id for t in self.trials)
        return "g" + hashlib.sha256(blob.encode()).hexdigest()[:12]

    @property
    def size(self) -> int:
        return len(self.trials)


Unit = Trial | Group  # one unit of an executor's work


@dataclass
class Plan:
    units: list[Unit]
    # reason -> trials it kept from stacking (stacking off is no reason worth saying)
    reasons: Counter = field(default_factory=Counter)

    def notes(self) -> list[str]:
        return [f"stacking: {n} trial(s) run one by one: {why}"
                for why, n in self.reasons.items()]


def group_key(trial: Trial) -> str:
    """Everything but the per-member fields: trials with equal keys may stack."""
    fields_ = {k: v for k, v in trial.to_dict().items() if k not in PER_MEMBER}
    return json.dumps(fields_, sort_keys=True, default=str)


def solo_reason(trial: Trial, checkpoints: Path | None = None) -> str | None:
    """Why this trial cannot run in a stacked group (None: it can)."""
    import tasks

    if trial.grad_accum != 1:
        return "grad_accum > 1 is not stacked"
    if trial.mixed_precision != "no":
        return f"mixed_precision={trial.mixed_precision} is not stacked"
    if trial.compile:
        return "compile=true is not stacked"
    try:
        mode = getattr(tasks.get(trial.task), "stacking", "none")
    except KeyError:
        return f"task {trial.task!r} cannot be imported"
    if mode == "none":
        return f"task {trial.task} does not opt in to stacking"
    if checkpoints is not None and (checkpoints / trial.id / "latest").exists():
        return "resumes its own single-trial checkpoint"
    return None


def plan(trials: list[Trial], stack_size: int, checkpoints: Path | None = None,
         processes: int = 1) -> Plan:
    """Units of work for the pending `trials`, in their order: groups of 2..stack_size
    stackable trials with equal keys, every other trial alone. A group whose checkpoint
    exists under `checkpoints` (all its members still pending) is formed again as it was,
    so a killed group resumes whatever the stack size now."""
    if stack_size <= 1 or processes > 1:
        out = Plan(list(trials))
        if processes > 1 and stack_size > 1 and trials:
            out.reasons[f"processes={processes} (DDP) is not stacked"] = len(trials)
        return out
    result = Plan([])
    taken: set[str] = set()
    for group in _resumable(trials, checkpoints):
        result.units.append(group)
        taken |= {t.id for t in group.trials}
    by_key: dict[str, list[Trial]] = {}
    for trial in trials:
        if trial.id in taken:
            continue
        why = solo_reason(trial, checkpoints)
        if why is not None:
            result.reasons[why] += 1
            result.units.append(trial)
            continue
        by_key.setdefault(group_key(trial), []).append(trial)
    for members in by_key.values():
        for i in range(0, len(members), stack_size):
            chunk = members[i:i + stack_size]
            result.units.append(Group(tuple(chunk)) if len(chunk) > 1 else chunk[0])
    return result


def _resumable(trials: list[Trial], checkpoints: Path | None) -> list[Group]:
    """Groups with a checkpoint whose members are all among `trials` (same order)."""
    if checkpoints is None or not checkpoints.is_dir():
        return []
    by_id = {t.id: t for t in trials}
    out, used = [], set()
    for manifest in sorted(checkpoints.glob(f"g*/latest/{MANIFEST}")):
        try:
            ids = json.loads(input_files.read_text(manifest, 1 << 24))["members"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a damaged checkpoint: its trials start over
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            continue
        if len(ids) > 1 and all(i in by_id and i not in used for i in ids):
            group = Group(tuple(by_id[i] for i in ids))
            if group.id == manifest.parent.parent.name:
                out.append(group)
                used |= set(ids)
    return out
