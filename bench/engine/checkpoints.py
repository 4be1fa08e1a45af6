"""Mid-run checkpoints of a lone trial (`Checkpointer`: Accelerate's state) and of a stacked
group (`GroupCheckpointer`: one file), under <out>/checkpoints/<trial or group id>/latest.

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

from bench.engine.context import Progress, TrialContext
from bench.ledger.store import Ledger
from bench.trial.batch import TrialBatch

GROUP_STATE = "state.pt"
MANIFEST = "members.json"  # a group checkpoint's member ids


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


class Checkpointer:
    """A lone trial's Accelerate checkpoints (every process takes part under DDP)."""

    def __init__(self, ledger: Ledger, ctx: TrialContext) -> None:
        self.dir = ledger.checkpoint_dir(ctx.trial.id)
        self.every = ctx.trial.checkpoint_every
        self.ctx = ctx

    @property
    def latest(self) -> Path:
        return self.dir / "latest"

    def restore(self) -> Progress | None:
        state = self.latest / "progress.json"
        if not self.every or not state.exists():
            return None
        self.ctx.accelerator.load_state(str(self.latest))
        return Progress.restored(json.loads(state.read_text()))

    def due(self, prog: Progress) -> bool:
        return due(prog.step, self.every, self.ctx.steps)

    def maybe_save(self, prog: Progress) -> None:
        if not self.due(prog):
            return
        acc = self.ctx.accelerator
        tmp = self.dir / "incoming"
        if acc.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
        acc.wait_for_everyone()
        acc.save_state(str(tmp))
        if acc.is_main_process:
            state = prog.saved(time.perf_counter() - prog.started)
            (tmp / "progress.json").write_text(json.dumps(state))
            swap_in(tmp, self.latest)
        acc.wait_for_everyone()

    def clear(self) -> None:
        if self.ctx.accelerator.is_main_process:
            shutil.rmtree(self.dir, ignore_errors=True)


Statuses = list[tuple[str | None, int | None]]  # each member's (status, diverged_at)


class GroupCheckpointer:
    """A stacked group's checkpoint: the stacked parameters, the stacked optimizer's state,
    every member's progress and status, and the RNG states, in one file."""

    def __init__(self, ledger: Ledger, group: TrialBatch, every: int | None = None,
                 steps: int = 0) -> None:
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
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        torch.save({"step": step, "params": {n: p.detach().cpu() for n, p in params.items()},
                    "optimizer": optimizer.state_dict(),
                    "progress": [prog.saved(wall_share) for prog in progs],
                    "statuses": statuses, "rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available()
                    else None}, tmp / GROUP_STATE)
        (tmp / MANIFEST).write_text(json.dumps({"members": self.group.trial_ids,
                                                "step": step}))
        swap_in(tmp, self.latest)

    def restore(self, params: dict[str, torch.Tensor], optimizer: Any
                ) -> tuple[int, list[Progress], Statuses] | None:
        """Load the latest checkpoint into `params` and `optimizer`; (step, progress,
        statuses), or None where there is none."""
        path = self.latest / GROUP_STATE
        if not self.every or not path.exists():
            return None
        state = torch.load(path, weights_only=False)
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(state["params"][name])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        if state["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        progs = [Progress.restored(p) for p in state["progress"]]
        return state["step"], progs, [tuple(s) for s in state["statuses"]]

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def resumable(checkpoints: Path) -> list[tuple[str, list[str]]]:
    """(group id, member ids) of every group checkpoint under `checkpoints`; a damaged
    manifest is passed over (its trials start over)."""
    out = []
    if not checkpoints.is_dir():
        return out
    for manifest in sorted(checkpoints.glob(f"g*/latest/{MANIFEST}")):
        try:
            ids = json.loads(manifest.read_text())["members"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(ids, list) and all(isinstance(i, str) for i in ids):
            out.append((manifest.parent.parent.name, ids))
    return out
