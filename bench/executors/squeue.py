"""What the SLURM commands say: is a cluster reachable, its partitions and GPUs, which jobs
still run, how a finished job ended. Thin wrappers over sinfo, squeue and sacct."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

# Array-task states after which the task will not run again.
TERMINAL = ("COMPLETED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "CANCELLED",
            "BOOT_FAIL", "DEADLINE", "PREEMPTED")
WHY = {"TIMEOUT": "hit its time limit", "OUT_OF_MEMORY": "ran out of memory",
       "NODE_FAIL": "lost its node (node failure)", "CANCELLED": "was cancelled",
       "BOOT_FAIL": "failed to boot its node", "DEADLINE": "missed its deadline",
       "PREEMPTED": "was preempted", "FAILED": "failed"}


class SlurmUnavailable(Exception):
    pass


def _run(args: list[str], timeout: float = 30) -> str:
    if shutil.which(args[0]) is None:
        raise SlurmUnavailable(f"{args[0]} is not on PATH")
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SlurmUnavailable(f"{args[0]} did not answer in {timeout:.0f} s") from None
    if done.returncode != 0:
        raise SlurmUnavailable(f"{' '.join(args[:2])} failed: "
                               f"{(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    return done.stdout


@dataclass(frozen=True)
class Partition:
    name: str
    default: bool
    gpus: int  # most GPUs on one node of the partition (from its gres)


def partitions() -> list[Partition]:
    """The cluster's partitions; raises SlurmUnavailable when no controller answers."""
    out: dict[str, Partition] = {}
    for line in _run(["sinfo", "-h", "-o", "%P|%G"]).splitlines():
        name, _, gres = line.strip().partition("|")
        if not name:
            continue
        default = name.endswith("*")
        name = name.rstrip("*")
        gpus = max([_gpu_count(g) for g in gres.split(",")] + [0])
        prev = out.get(name)
        out[name] = Partition(name, default or bool(prev and prev.default),
                              max(gpus, prev.gpus if prev else 0))
    return list(out.values())


def _gpu_count(gres: str) -> int:
    """'gpu:a100:4(S:0-1)' -> 4; '(null)' -> 0."""
    parts = gres.split("(")[0].split(":")
    if not parts or parts[0] != "gpu":
        return 0
    try:
        return int(parts[-1])
    except ValueError:
        return 1


def live_job_ids() -> set[str] | None:
    """Ids (`<job>` and `<array>_<task>`) of jobs pending or running; None without SLURM."""
    try:
        text = _run(["squeue", "-h", "-r", "-o", "%i|%A"], timeout=15)
    except SlurmUnavailable:
        return None
    ids: set[str] = set()
    for line in text.splitlines():
        array_task, _, job = line.strip().partition("|")
        ids.update(x for x in (array_task, job) if x)
    return ids


@dataclass(frozen=True)
class TaskState:
    task_id: str  # '<array>_<index>'
    state: str  # first word of sacct's State (CANCELLED by 0 -> CANCELLED)
    exit_code: str
    node: str

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    @property
    def failed(self) -> bool:
        return self.terminal and self.state != "COMPLETED"

    def explain(self, log: str) -> str:
        why = WHY.get(self.state, self.state.lower())
        code = f", exit code {self.exit_code}" if self.exit_code not in ("", "0:0") else ""
        node = f" on {self.node}" if self.node and self.node != "None assigned" else ""
        return f"slurm job {self.task_id} {why} ({self.state}{code}{node}); log: {log}"


def array_states(array_id: str) -> dict[str, TaskState]:
    """sacct's view of an array's tasks, by '<array>_<index>' (pending ranges left out)."""
    try:
        text = _run(["sacct", "-j", array_id, "-X", "-n", "-P", "-o",
                     "JobID,State,ExitCode,NodeList"], timeout=30)
    except SlurmUnavailable:
        return {}
    out: dict[str, TaskState] = {}
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) < 4 or "[" in fields[0]:
            continue
        state = fields[1].split()[0] if fields[1] else "UNKNOWN"
        out[fields[0]] = TaskState(fields[0], state, fields[2], fields[3])
    return out
