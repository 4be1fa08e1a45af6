"""Which "func" strategy a stacked group runs (bench/engine/stacked/func.py): `vmap` (one
batched op per model op) or `loop` (member after member, each its lone step, bit for bit),
chosen by timing both on the group's own device, model and batch shape, not by a rule.

What decides it, measured on this project's 2-core CPU (one thread; `python -m
bench.perf.stacked_timing`, 16 or 8 members): a batched step pays only where the per-op
overhead of T separate steps outweighs what batching costs (T times larger working sets,
batched-kernel layouts). The smoke MNIST MLP (width 64, batch 64) is overhead-bound: vmap
6.7 ms against loop 8.8. The cpu MLP (width 256, batch 128) is matmul-bound: vmap 33.3 ms
against loop 31.5, and even a hand-written batched step (bmm, no autograd) took 25-26 ms, as
the 16 lone steps did. The smoke GPT is elementwise-bound: vmap 336 ms against loop 248. On a
GPU the batched kernels fill the device where one member does not.

Timing both costs a few steps of the group, so the outcome is kept in the cache directory
(`stacking.json`), keyed by what it depends on: the device (its name), torch, the thread
count, the task and its options, the model's parameter shapes, T and the batch shapes. Where
the two are within `TIE` of each other the loop wins: it is exact and costs nothing to pick.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from bench.ledger.shared_files import write_text
from tasks.base import Task

TIE = 0.05  # vmap must be this much faster (relative) to be chosen over the exact loop
CACHE_FILE = "stacking.json"


def training_batches(task: Task, n_trials: int) -> list[Any]:
    """One training batch of the budget's size per trial (consecutive examples, wrapping)."""
    dataset = task.train_dataset()
    size = task.budget.batch_size
    return [task.collate([dataset[(i * size + j) % len(dataset)] for j in range(size)])
            for i in range(n_trials)]


def choose(task: Task, steps: Mapping[str, Callable[[Any], Any]], params: Mapping[str, Tensor],
           batch: Any, device: torch.device, cache_dir: str | Path | None = None) -> str:
    """The fastest of `steps` (strategy -> one training step: forward and backward of every
    member, gradients into the params' `.grad`) on the stacked `batch`, "loop" on a tie; from
    `cache_dir`'s record where it has one for this key, else timed and recorded there."""
    path = Path(cache_dir) / CACHE_FILE if cache_dir is not None else None
    key = _key(task, params, batch, device)
    known = _read(path).get(key) if path is not None else None
    if known is not None and known.get("strategy") in steps:
        return known["strategy"]
    seconds = time_steps(steps, params, batch, device)
    best = min(seconds, key=seconds.__getitem__)
    if "loop" in seconds and seconds[best] >= (1 - TIE) * seconds["loop"]:
        best = "loop"
    if path is not None:
        _record(path, key, {"strategy": best, "seconds": seconds})
    return best


def time_steps(steps: Mapping[str, Callable[[Any], Any]], params: Mapping[str, Tensor],
               batch: Any, device: torch.device, repeats: int = 1) -> dict[str, float]:
    """CPU-or-device seconds of one step of each strategy (after one warm-up, the least of
    `repeats`); a strategy that fails (e.g. out of memory) is left out. Process CPU time on a
    CPU (the machine may be shared), wall time with the device synchronized elsewhere. A
    strategy whose warm-up alone takes twice the best timed step so far is not timed again."""
    cpu = device.type == "cpu"
    sync = (lambda: None) if cpu else (lambda: torch.cuda.synchronize(device))
    clock = time.process_time if cpu else time.perf_counter
    seconds: dict[str, float] = {}
    failures: list[str] = []
    for name, step in steps.items():
        runs = []
        try:
            for _ in range(1 + repeats):
                sync()
                start = clock()
                step(batch)
                sync()
                runs.append(clock() - start)
                for p in params.values():
                    p.grad = None
                if seconds and runs[0] > 2 * min(seconds.values()):
                    break  # the warm-up says enough
        except (RuntimeError, torch.cuda.OutOfMemoryError) as err:
            failures.append(f"{name}: {type(err).__name__}: "
                            f"{(str(err).strip().splitlines() or [''])[0][:200]}")
            for p in params.values():
                p.grad = None
            if not cpu:
                torch.cuda.empty_cache()  # what the failed try held: the group needs it
            continue
        seconds[name] = min(runs[1:] or runs)
    if not seconds:
        raise RuntimeError("no stacking strategy ran on this device (" + "; ".join(failures)
                           + ")")
    return seconds


def _key(task: Task, params: Mapping[str, Tensor], batch: Any, device: torch.device) -> str:
    shapes = [(n, tuple(p.shape), str(p.dtype)) for n, p in params.items()]
    options = sorted((k, repr(v)) for k, v in task.options.items())
    what = repr((task.name, options, shapes, _shapes(batch)))
    return "|".join((_device_name(device), f"torch {torch.__version__}",
                     f"threads {torch.get_num_threads()}",
                     hashlib.sha256(what.encode()).hexdigest()[:16]))


def _shapes(batch: Any) -> Any:
    if isinstance(batch, Tensor):
        return tuple(batch.shape), str(batch.dtype)
    if isinstance(batch, Mapping):
        return sorted((k, _shapes(v)) for k, v in batch.items())
    if isinstance(batch, (tuple, list)):
        return [_shapes(v) for v in batch]
    return repr(batch)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda {torch.cuda.get_device_name(device)}"
    if device.type == "cpu":
        return f"cpu {_cpu_model()} x{os.cpu_count()}"
    return device.type


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _record(path: Path, key: str, entry: dict[str, Any]) -> None:
    """Add `entry` under `key`, atomically (sweep workers may record at once: the last write
    wins, and an entry lost that way is timed again next time)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        known = _read(path)
        known[key] = entry
        write_text(path, json.dumps(known, indent=1, sort_keys=True))
    except OSError:
        pass  # a read-only cache: timed again next time
