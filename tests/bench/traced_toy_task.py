"""The toy task, observable from outside: each model build appends `seed pid restart rank`
to $WDBENCH_TEST_TRACE (how many times a trial ran, and where), and each training step
sleeps $WDBENCH_TEST_STEP_SLEEP seconds (a trial long enough to cancel or time out);
$WDBENCH_TEST_REQUEUED_STEP_SLEEP replaces it once SLURM requeued the job;
$WDBENCH_TEST_CRASH_AT=SEED:N kills the process at step N of that seed's trial;
$WDBENCH_TEST_HANG_AT_BUILD=K makes the trial whose build is the K-th line of the trace hang
at its first step (a sweep stopped at a known point, to be killed there). All of them come
from the environment, not from task options, so the trial ids and metrics equal a plain
run's."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import torch

from tests.bench.toy_task import ToyTask

TRACED = "tests.bench.traced_toy_task:TracedToyTask"


class TracedToyTask(ToyTask):
    name = "traced_toy"

    def build_model(self, seed: int) -> torch.nn.Module:
        trace = os.environ.get("WDBENCH_TEST_TRACE")
        self.hang = False
        if trace:
            with open(trace, "a") as f:  # one short O_APPEND write per line: no interleaving
                f.write(f"{seed} {os.getpid()} {os.environ.get('SLURM_RESTART_COUNT', '0')} "
                        f"{os.environ.get('RANK', '0')}\n")
            hang_at = os.environ.get("WDBENCH_TEST_HANG_AT_BUILD")
            self.hang = bool(hang_at) and len(Path(trace).read_text().splitlines()) == int(hang_at)
        self.seed = seed
        return super().build_model(seed)

    def loss(self, model: torch.nn.Module, batch: Any) -> torch.Tensor:
        if model.training:
            while self.hang:
                time.sleep(0.05)
            pause = os.environ.get("WDBENCH_TEST_STEP_SLEEP", "0")
            if os.environ.get("SLURM_RESTART_COUNT", "0") != "0":
                pause = os.environ.get("WDBENCH_TEST_REQUEUED_STEP_SLEEP", pause)
            time.sleep(float(pause))
            seed, _, step = os.environ.get("WDBENCH_TEST_CRASH_AT", "").partition(":")
            if step and int(seed) == self.seed and self.steps_seen + 1 >= int(step):
                os._exit(3)  # a hard crash: no traceback, no record (as a segfault would)
        return super().loss(model, batch)


def runs(trace: Path) -> list[tuple[int, int, int, int]]:
    """(seed, pid, restart count, rank) per model build, rank 0 only."""
    if not trace.exists():
        return []
    rows = [tuple(int(x) for x in line.split()) for line in trace.read_text().splitlines()]
    return [r for r in rows if r[3] == 0]
