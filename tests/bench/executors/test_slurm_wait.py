"""When a SLURM sweep believes a task ended (bench/executors/slurm.py:ended_tasks): out of the
queue with a final state in accounting for REQUEUE_GRACE_S (a requeue passes through a
moment out of the queue while sacct says CANCELLED), or a minute with accounting silent."""

from __future__ import annotations

import pytest

from bench.executors.slurm import REQUEUE_GRACE_S, ended_tasks
from bench.executors.squeue import TaskState

NOW = 1000.0


@pytest.mark.parametrize("gone_for, state, ended", [
    (None, "CANCELLED", False),  # still in the queue: whatever sacct says
    (0.0, "CANCELLED", False),  # just left: a requeue looks like this
    (REQUEUE_GRACE_S / 2, "CANCELLED", False),
    (REQUEUE_GRACE_S, "CANCELLED", True),
    (REQUEUE_GRACE_S, "FAILED", True),
    (REQUEUE_GRACE_S, "COMPLETED", True),
    (REQUEUE_GRACE_S, "RUNNING", False),  # accounting lags the queue
    (30.0, None, False),  # accounting silent: wait for it
    (61.0, None, True),  # ... a minute at most
])
def test_a_task_ends_after_its_grace_out_of_the_queue(gone_for, state, ended):
    gone_since = {} if gone_for is None else {"7_0": NOW - gone_for}
    states = {} if state is None else {"7_0": TaskState("7_0", state, "0:0", "vm")}
    assert ended_tasks(["7_0"], gone_since, states, NOW) == (["7_0"] if ended else [])
