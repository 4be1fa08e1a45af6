"""Process-wide state that a trial's code may change and the next trial must not inherit: a
submission that calls `torch.set_default_dtype`, seeds the global RNGs or sets the thread count
in its `__init__` changes that state for every later trial of the same process (a local sweep
with one worker runs them all in one process).

`preserved_process_state()` snapshots it on entry and restores it on exit (also when the body
raises); the worker enters it once around each unit of work (bench/executors/worker.py). What is
covered is the table `_settings()`, one row per setting: add a row to cover another. Threads a
unit leaves running are not state that can be put back; bench/isolation/threads.py keeps them
from holding the process at exit."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One piece of process-wide state: how to read it and how to put a read value back."""

    name: str
    read: Callable[[], Any]
    write: Callable[[Any], None]


def _settings() -> tuple[Setting, ...]:
    import random

    import numpy as np
    import torch

    def set_default_device(device: Any) -> None:
        # None removes the global device context: `set_default_device("cpu")` would install
        # one, which costs a little on every torch call.
        torch.set_default_device(None if device.type == "cpu" else device)

    def set_deterministic(value: tuple[bool, bool]) -> None:
        torch.use_deterministic_algorithms(value[0], warn_only=value[1])

    def set_anomaly(value: tuple[bool, bool]) -> None:
        torch.autograd.set_detect_anomaly(*value)  # sets the mode when constructed

    def cudnn(name: str) -> Setting:
        return Setting(f"torch.backends.cudnn.{name}", lambda: getattr(torch.backends.cudnn, name),
                       lambda value: setattr(torch.backends.cudnn, name, value))

    rows = [
        Setting("default dtype", torch.get_default_dtype, torch.set_default_dtype),
        Setting("default device", torch.get_default_device, set_default_device),
        Setting("torch RNG", torch.get_rng_state, torch.set_rng_state),
        Setting("numpy RNG", np.random.get_state, np.random.set_state),
        Setting("python RNG", random.getstate, random.setstate),
        Setting("torch threads", torch.get_num_threads, torch.set_num_threads),
        Setting("grad mode", torch.is_grad_enabled, torch.set_grad_enabled),
        Setting("anomaly detection",
                lambda: (torch.is_anomaly_enabled(), torch.is_anomaly_check_nan_enabled()),
                set_anomaly),
        Setting("deterministic algorithms",
                lambda: (torch.are_deterministic_algorithms_enabled(),
                         torch.is_deterministic_algorithms_warn_only_enabled()),
                set_deterministic),
        Setting("float32 matmul precision", torch.get_float32_matmul_precision,
                torch.set_float32_matmul_precision),
        cudnn("benchmark"),
        cudnn("deterministic"),
        Setting("working directory", os.getcwd, os.chdir),
    ]
    if torch.cuda.is_initialized():  # reading it would initialise CUDA otherwise
        rows.append(Setting("CUDA RNG", torch.cuda.get_rng_state_all,
                            torch.cuda.set_rng_state_all))
    return tuple(rows)


def snapshot() -> dict[str, Any]:
    """Each setting's current value, by name."""
    return {s.name: s.read() for s in _settings()}


def restore(saved: dict[str, Any]) -> None:
    """Put each saved setting back (one that was not saved, e.g. CUDA's RNG before CUDA was
    initialised, is left as it is)."""
    for setting in _settings():
        if setting.name in saved:
            setting.write(saved[setting.name])


def changed(saved: dict[str, Any]) -> list[str]:
    """The names of the settings whose value is no longer the one in `saved`."""
    now = snapshot()
    return [name for name, value in saved.items() if not _same(value, now.get(name))]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (tuple, list)):
        return (isinstance(b, type(a)) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b)))
    if hasattr(a, "shape"):  # an RNG state: a tensor, or numpy's key array
        import numpy as np

        return hasattr(b, "shape") and np.array_equal(np.asarray(a), np.asarray(b))
    return bool(a == b)


@contextmanager
def preserved_process_state() -> Iterator[None]:
    """The body may change any setting of `_settings()`; on exit each is what it was. In a
    worker process, threads the body leaves running cannot keep it from ending
    (bench/isolation/threads.py; the command's own process ends in bench/cli)."""
    import multiprocessing

    from bench.isolation import threads

    saved, running = snapshot(), set(threading.enumerate())
    try:
        yield
    finally:
        restore(saved)
        if multiprocessing.parent_process() is not None and threads.started_since(running):
            threads.never_wait_at_exit()
