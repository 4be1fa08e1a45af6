"""Mid-run checkpoints of a lone trial (`Checkpointer`) and of a stacked group
(`GroupCheckpointer`), under <out>/checkpoints/<trial or group id>/latest.

A results directory may be shared and writable by others: a checkpoint is input, never code.
Both write files that hold no code (bench/engine/checkpoint_files.py: tensors read back with
`torch.load(weights_only=True)`, the rest JSON), read every file before applying any, and
start the trial (or group) over with one warning naming the file where one does not load
safely. A symbolic link planted on the way to their folders is removed, never followed
(bench/ledger/paths.py): nothing is read, written or deleted outside `--out`.

Both share the one test of when a checkpoint is `due`, the serialisation of a trial's
`Progress`, and `swap_in`: a new checkpoint is written beside the old one and swapped in, so
that a kill at any moment leaves one of them whole. A group's `members.json` names its
members, so that a later sweep forms the same group again and resumes it (`resumable`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from bench import input_files
from bench.engine import checkpoint_files as files
from bench.engine.context import Progress, TrialContext
from bench.ledger import paths
from bench.ledger.store import Ledger
from bench.trial.batch import TrialBatch

GROUP_STATE = "state.pt"  # a group's tensors: stacked parameters, optimizer state, RNG states
PROGRESS = "progress.json"  # progress (a group's: every member's, and their statuses)
MANIFEST = "members.json"  # a group checkpoint's member ids
MAX_MANIFEST_BYTES = 1 << 24
_SWAP_FOLDERS = ("latest", "incoming", "old")


def due(step: int, every: int | None, steps: int) -> bool:
    """A checkpoint after `step` (every `every` steps; none at the end, which writes records)."""
    return bool(every) and step % every == 0 and step < steps


def swap_in(incoming: Path, latest: Path) -> None:
    """Make the finished checkpoint `incoming` the `latest` one: a kill at any moment leaves
    either the old or the new checkpoint whole (the previous one waits as `old` meanwhile)."""
    old = latest.parent / "old"
    shutil.rmtree(old, ignore_errors=True)
    if latest.exists():
        os.replace(latest, old)
    os.replace(incoming, latest)
    shutil.rmtree(old, ignore_errors=True)


def _unlink_planted(root: Path, folder: Path) -> None:
    """Never follow a symbolic link planted on the way to a checkpoint's folders: it would
    read, write and delete outside the output directory."""
    for name in _SWAP_FOLDERS:
        paths.unlink_planted(root, folder / name)


def _restored(saved: Any, path: Path) -> Progress:
    """The `Progress` a checkpoint kept; UnsafeCheckpoint naming `path` where it is none."""
    try:
        return Progress.restored(saved)
    except (AttributeError, TypeError) as err:
        raise files.UnsafeCheckpoint(path, f"{type(err).__name__}: {err}") from None


class Checkpointer:
    """A lone trial's checkpoints (every process takes part under DDP): model, optimizer,
    schedule and loss scaler as `*.pt`, each process's RNG states as `rng_<rank>.pt`, its
    progress as `progress.json`."""

    def __init__(self, ledger: Ledger, ctx: TrialContext) -> None:
        self.root = ledger.root
        self.dir = ledger.checkpoint_dir(ctx.trial.id)
        self.every = ctx.trial.checkpoint_every
        self.ctx = ctx

    @property
    def latest(self) -> Path:
        return self.dir / "latest"

    def restore(self) -> Progress | None:
        """Progress of the latest checkpoint, its state loaded into the trial; None where
        there is none, or where one of its files does not load safely (the trial starts
        over, with a warning naming the file)."""
        acc = self.ctx.accelerator
        if not self.every:
            return None
        if acc.is_main_process:
            _unlink_planted(self.root, self.dir)
        acc.wait_for_everyone()
        if not self.latest.exists():
            return None
        try:
            state, problem = self._read(), None
        except files.UnsafeCheckpoint as err:
            state, problem = None, err
        if acc.num_processes > 1:  # every process resumes, or none does
            loaded = torch.tensor([float(problem is None)], device=acc.device)
            if acc.reduce(loaded, reduction="sum").item() < acc.num_processes:
                state = None
        if state is None:
            if problem is not None and acc.is_main_process:
                files.warn_start_over(problem)
            return None
        ctx = self.ctx
        acc.unwrap_model(ctx.model).load_state_dict(state["model"])
        ctx.optimizer.load_state_dict(state["optimizer"])
        ctx.scheduler.load_state_dict(state["scheduler"])
        if acc.scaler is not None:
            acc.scaler.load_state_dict(state["scaler"])
        files.set_rng_state(state["rng"])
        return state["progress"]

    def _read(self) -> dict[str, Any]:
        """Every file of the latest checkpoint, read and checked, nothing applied yet."""
        latest, acc = self.latest, self.ctx.accelerator
        state = {name: files.load_tensors(latest / f"{name}.pt")
                 for name in ("model", "optimizer", "scheduler")}
        if acc.scaler is not None:
            state["scaler"] = files.load_tensors(latest / "scaler.pt")
        state["rng"] = files.load_tensors(latest / f"rng_{acc.process_index}.pt")
        state["progress"] = _restored(files.load_json(latest / PROGRESS), latest / PROGRESS)
        return state

    def due(self, prog: Progress) -> bool:
        return due(prog.step, self.every, self.ctx.steps)

    def maybe_save(self, prog: Progress) -> None:
        if not self.due(prog):
            return
        acc, ctx = self.ctx.accelerator, self.ctx
        tmp = self.dir / "incoming"
        if acc.is_main_process:
            _unlink_planted(self.root, self.dir)
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        acc.wait_for_everyone()
        files.save_tensors(files.rng_state(), tmp / f"rng_{acc.process_index}.pt")
        if acc.is_main_process:
            files.save_tensors(acc.unwrap_model(ctx.model).state_dict(), tmp / "model.pt")
            files.save_tensors(ctx.optimizer.state_dict(), tmp / "optimizer.pt")
            files.save_tensors(ctx.scheduler.state_dict(), tmp / "scheduler.pt")
            if acc.scaler is not None:
                files.save_tensors(acc.scaler.state_dict(), tmp / "scaler.pt")
        acc.wait_for_everyone()
        if acc.is_main_process:
            files.save_json(prog.saved(time.perf_counter() - prog.started), tmp / PROGRESS)
            swap_in(tmp, self.latest)
        acc.wait_for_everyone()

    def clear(self) -> None:
        if self.ctx.accelerator.is_main_process:
            paths.unlink_planted(self.root, self.dir)
            shutil.rmtree(self.dir, ignore_errors=True)


Statuses = list[tuple[str | None, int | None]]  # each member's (status, diverged_at)


class GroupCheckpointer:
    """A stacked group's checkpoint: `state.pt` holds the stacked parameters, the stacked
    optimizer's state and the RNG states, `progress.json` every member's progress and
    status, `members.json` the member ids."""

    def __init__(self, ledger: Ledger, group: TrialBatch, every: int | None = None,
                 steps: int = 0) -> None:
        self.root = ledger.root
        self.dir = ledger.checkpoints_dir / group.id
        self.group, self.every, self.steps = group, every, steps

    @property
    def latest(self) -> Path:
        return self.dir / "latest"

    def due(self, step: int) -> bool:
        return due(step, self.every, self.steps)

    def save(self, step: int, params: dict[str, torch.Tensor], optimizer: Any,
             progs: list[Progress], statuses: Statuses, wall_share: float) -> None:
        """`wall_share`: each member's share of this process's wall seconds so far."""
        tmp = self.dir / "incoming"
        _unlink_planted(self.root, self.dir)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        files.save_tensors({"params": {n: p.detach().cpu() for n, p in params.items()},
                            "optimizer": optimizer.state_dict(), "rng": files.rng_state()},
                           tmp / GROUP_STATE)
        files.save_json({"step": step, "progress": [prog.saved(wall_share) for prog in progs],
                         "statuses": statuses}, tmp / PROGRESS)
        files.save_json({"members": self.group.trial_ids, "step": step}, tmp / MANIFEST)
        swap_in(tmp, self.latest)

    def restore(self, params: dict[str, torch.Tensor], optimizer: Any
                ) -> tuple[int, list[Progress], Statuses] | None:
        """Load the latest checkpoint into `params` and `optimizer`; (step, progress,
        statuses), or None where there is none or one of its files does not load safely
        (the group starts over, with a warning naming the file)."""
        if not self.every:
            return None
        _unlink_planted(self.root, self.dir)
        if not self.latest.exists():
            return None
        try:
            state, progress = self._read(params)
        except files.UnsafeCheckpoint as err:
            files.warn_start_over(err)
            return None
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(state["params"][name])
        optimizer.load_state_dict(state["optimizer"])
        files.set_rng_state(state["rng"])
        return progress

    def _read(self, params: dict[str, torch.Tensor]
              ) -> tuple[dict[str, Any], tuple[int, list[Progress], Statuses]]:
        """The checkpoint's tensors and its (step, progress, statuses), read and checked,
        nothing applied yet."""
        state = files.load_tensors(self.latest / GROUP_STATE)
        saved = files.load_json(self.latest / PROGRESS)
        try:
            missing = set(params) - set(state["params"])
            if missing:
                raise ValueError(f"no parameter {sorted(missing)[0]!r}")
            progs = [_restored(p, self.latest / PROGRESS) for p in saved["progress"]]
            statuses = [tuple(s) for s in saved["statuses"]]
            if len(progs) != self.group.size or len(statuses) != len(progs):
                raise ValueError(f"{len(progs)} members, the group has {self.group.size}")
            return state, (int(saved["step"]), progs, statuses)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise files.UnsafeCheckpoint(self.latest, f"{type(err).__name__}: {err}") from None

    def clear(self) -> None:
        paths.unlink_planted(self.root, self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)


def resumable(checkpoints: Path) -> list[tuple[str, list[str]]]:
    """(group id, member ids) of every group checkpoint under `checkpoints`; a damaged
    manifest, or one that is no regular file (a named pipe), is passed over (its trials
    start over)."""
    out = []
    if not checkpoints.is_dir():
        return out
    for manifest in sorted(checkpoints.glob(f"g*/latest/{MANIFEST}")):
        try:
            ids = json.loads(input_files.read_text(manifest, MAX_MANIFEST_BYTES))["members"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(ids, list) and all(isinstance(i, str) for i in ids):
            out.append((manifest.parent.parent.name, ids))
    return out
