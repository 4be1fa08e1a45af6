"""Group checkpoints: <out>/checkpoints/<group id>/latest (atomic swap, as the runner's).

`state.pt` holds the stacked parameters, the stacked optimizer's state and the RNG states
(read with `weights_only=True`: a results directory is input, never code), `progress.json`
every member's progress and status; `members.json` beside them names the members, so that a
later sweep forms the same group again (bench/executors/plan.py) and resumes it. A file that
does not load safely is not used: the group starts over, with a warning naming it.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from bench.engine import checkpoint_files as files
from bench.engine.runner import Progress, swap_in
from bench.executors.plan import MANIFEST, Group
from bench.ledger import paths
from bench.ledger.store import Ledger

STATE = "state.pt"
PROGRESS = "progress.json"


class GroupCheckpointer:
    def __init__(self, ledger: Ledger, group: Group, every: int | None, steps: int) -> None:
        self.root = ledger.root
        self.dir = ledger.checkpoints_dir / group.id
        self.group, self.every, self.steps = group, every, steps

    @property
    def latest(self) -> Path:
        return self.dir / "latest"

    def _unlink_planted(self) -> None:
        """Never follow a symbolic link planted on the way to the group's folders."""
        for name in ("latest", "incoming", "old"):
            paths.unlink_planted(self.root, self.dir / name)

    def due(self, step: int) -> bool:
        return bool(self.every) and step % self.every == 0 and step < self.steps

    def save(self, step: int, params: dict[str, torch.Tensor], optimizer: Any,
             progs: list[Progress], statuses: list[tuple[str | None, int | None]],
             wall_share: float) -> None:
        """`wall_share`: each member's share of this process's wall seconds so far."""
        tmp = self.dir / "incoming"
        self._unlink_planted()
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        saved = []
        for prog in progs:
            state = {k: v for k, v in asdict(prog).items() if k != "started"}
            state["wall_s"] = prog.wall_s + wall_share
            saved.append(state)
        files.save_tensors({"params": {n: p.detach().cpu() for n, p in params.items()},
                            "optimizer": optimizer.state_dict(), "rng": files.rng_state()},
                           tmp / STATE)
        files.save_json({"step": step, "progress": saved, "statuses": statuses},
                        tmp / PROGRESS)
        files.save_json({"members": [t.id for t in self.group.trials], "step": step},
                        tmp / MANIFEST)
        swap_in(tmp, self.latest)

    def restore(self, params: dict[str, torch.Tensor], optimizer: Any
                ) -> tuple[int, list[Progress], list[tuple[str | None, int | None]]] | None:
        """Load the latest checkpoint into `params` and `optimizer`; (step, progress,
        statuses), or None where there is none."""
        if not self.every:
            return None
        self._unlink_planted()
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
              ) -> tuple[dict[str, Any], tuple[int, list[Progress], list[tuple[Any, Any]]]]:
        """The checkpoint's tensors and its (step, progress, statuses), read and checked,
        nothing applied yet."""
        state = files.load_tensors(self.latest / STATE)
        saved = files.load_json(self.latest / PROGRESS)
        now = time.perf_counter()
        try:
            missing = set(params) - set(state["params"])
            if missing:
                raise ValueError(f"no parameter {sorted(missing)[0]!r}")
            progs = [Progress(**{**p, "started": now}) for p in saved["progress"]]
            statuses = [tuple(s) for s in saved["statuses"]]
            if len(progs) != len(self.group.trials) or len(statuses) != len(progs):
                raise ValueError(f"{len(progs)} members, the group has "
                                 f"{len(self.group.trials)}")
            return state, (int(saved["step"]), progs, statuses)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise files.UnsafeCheckpoint(self.latest, f"{type(err).__name__}: {err}") from None

    def clear(self) -> None:
        paths.unlink_planted(self.root, self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)
