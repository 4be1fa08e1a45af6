"""Which pending trials of a sweep run together as one stacked group (issue #14).

Trials stack when they are equal in everything but lr, weight_decay (or tau) and seed (same task,
optimizer, options, budget, schedule, steps, ...): each member then differs only in numbers
the stacked optimizer takes per trial and in its own init and data order. A group holds at
most `stack_size` trials; a trial that cannot stack runs alone as before (a batch of one), and
`plan` says why (once per reason, with a count).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.engine.checkpoints import resumable
from bench.trial.batch import TrialBatch
from bench.trial.config import Trial

# What may differ inside a group, as each Trial field declares (lr, weight_decay, tau, seed).
PER_MEMBER = tuple(f.name for f in Trial.declared() if f.per_member)


@dataclass
class Plan:
    units: list[TrialBatch]
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
        out = Plan([TrialBatch.of(t) for t in trials])
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
            result.units.append(TrialBatch.of(trial))
            continue
        by_key.setdefault(group_key(trial), []).append(trial)
    for members in by_key.values():
        for i in range(0, len(members), stack_size):
            chunk = members[i:i + stack_size]
            result.units.append(TrialBatch(tuple(chunk)))
    return result


def _resumable(trials: list[Trial], checkpoints: Path | None) -> list[TrialBatch]:
    """Groups with a checkpoint whose members are all among `trials` (same order)."""
    if checkpoints is None:
        return []
    by_id = {t.id: t for t in trials}
    out, used = [], set()
    for group_id, ids in resumable(checkpoints):
        if len(ids) > 1 and all(i in by_id and i not in used for i in ids):
            group = TrialBatch(tuple(by_id[i] for i in ids))
            if group.id == group_id:
                out.append(group)
                used |= set(ids)
    return out
