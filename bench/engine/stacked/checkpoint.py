"""Group checkpoints: <out>/checkpoints/<group id>/latest (atomic swap, as the runner's).

One file holds the stacked parameters, the stacked optimizer's state, every member's
progress and status and the RNG states; `members.json` beside it names the members, so
that a later sweep forms the same group again (bench/executors/plan.py) and resumes it.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from bench.engine.runner import Progress, swap_in
from bench.executors.plan import MANIFEST, Group
from bench.ledger.store import Ledger

STATE = "state.pt"


class GroupCheckpointer:
    def __init__(self, ledger: Ledger, group: Group, every: int | None, steps: int) -> None:
        self.dir = ledger.checkpoints_dir / group.id
        self.group, self.every, self.steps = group, every, steps

    @property
    def latest(self) -> Path:
        return self.dir / "latest"

    def due(self, step: int) -> bool:
        return bool(self.every) and step % self.every == 0 and step < self.steps

    def save(self, step: int, params: dict[str, torch.Tensor], optimizer: Any,
             progs: list[Progress], statuses: list[tuple[str | None, int | None]],
             wall_share: float) -> None:
        """`wall_share`: each member's share of this process's wall seconds so far."""
        tmp = self.dir / "incoming"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        saved = []
        for prog in progs:
            state = {k: v for k, v in asdict(prog).items() if k != "started"}
            state["wall_s"] = prog.wall_s + wall_share
            saved.append(state)
        torch.save({"step": step, "params": {n: p.detach().cpu() for n, p in params.items()},
                    "optimizer": optimizer.state_dict(), "progress": saved,
                    "statuses": statuses, "rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available()
                    else None}, tmp / STATE)
        (tmp / MANIFEST).write_text(json.dumps({"members": [t.id for t in self.group.trials],
                                                "step": step}))
        swap_in(tmp, self.latest)

    def restore(self, params: dict[str, torch.Tensor], optimizer: Any
                ) -> tuple[int, list[Progress], list[tuple[str | None, int | None]]] | None:
        """Load the latest checkpoint into `params` and `optimizer`; (step, progress,
        statuses), or None where there is none."""
        path = self.latest / STATE
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
        now = time.perf_counter()
        progs = [Progress(**{**p, "started": now}) for p in state["progress"]]
        return state["step"], progs, [tuple(s) for s in state["statuses"]]

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
