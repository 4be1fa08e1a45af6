"""Optimizers with one defect each, for the conformance checks to catch (imported by SPEC)."""

from __future__ import annotations

import torch

from tests.bench.heavy_ball import HeavyBall


class _Momentum(HeavyBall):
    """Heavy-ball SGD with decoupled weight decay; subclasses break one thing."""

    def __init__(self, params, lr=1e-2, weight_decay=0.0, momentum=0.9):
        super().__init__(params, lr, weight_decay, momentum)

    def _weight_decay(self, group):
        return group["weight_decay"]

    def _decay(self, group, p, grad):
        p.mul_(1 - group["lr"] * self._weight_decay(group))
        return grad


class Conforming(_Momentum):
    decay_style = "decoupled"


class IgnoresWeightDecay(_Momentum):
    """Accepts weight_decay and never applies it: a bug seen in published libraries."""

    def _weight_decay(self, group):
        return 0.0


class ReadsDefaultWeightDecay(_Momentum):
    """Uses the constructor's weight_decay for every group, ignoring per-group values."""

    def _weight_decay(self, group):
        return self.defaults["weight_decay"]


class ForgetsState(_Momentum):
    """Keeps momentum outside self.state, so state_dict() does not carry it."""

    def _buffer(self, p):
        buffers = self.__dict__.setdefault("_buffers", {})
        return buffers.setdefault(id(p), torch.zeros_like(p))


class MislabelledCoupled(_Momentum):
    """Declares coupled decay but decays decoupled."""

    decay_style = "coupled"


class ConstantShrink(_Momentum):
    """Shrinks x by (1 - λ) per step whatever the lr or its schedule: the `fixed` style,
    undeclared."""

    def _weight_decay(self, group):
        return group["weight_decay"] / group["lr"]


class OffScaleShrink(_Momentum):
    """Shrinks x by (1 - 0.1 λ) per step whatever the lr: constant, but not λ: no style."""

    def _weight_decay(self, group):
        return 0.1 * group["weight_decay"] / group["lr"]


class HangsInStep(_Momentum):
    """`step()` never returns: check-optimizer must give a verdict, not hang. With
    $WDBENCH_TEST_HANG_MARKS set, each process hanging here first creates the file
    `<that directory>/<pid>`, so a test knows it hangs without waiting a guessed time."""

    decay_style = "decoupled"

    def step(self, closure=None):
        import os
        import time

        marks = os.environ.get("WDBENCH_TEST_HANG_MARKS")
        if marks:
            open(os.path.join(marks, str(os.getpid())), "w").close()
        while True:
            time.sleep(0.05)


class ExitsInStep(_Momentum):
    """`step()` raises SystemExit(0): a sweep must record the trial failed, not exit 0."""

    decay_style = "decoupled"

    def step(self, closure=None):
        raise SystemExit(0)


class ExitsHardInStep(_Momentum):
    """`step()` calls os._exit(3): no exception, no cleanup, the process is gone. A sweep must
    record the trial failed with the exit code and go on with the others."""

    decay_style = "decoupled"

    def step(self, closure=None):
        import os

        os._exit(3)


class SegfaultsInStep(_Momentum):
    """`step()` dereferences a null pointer (as a bug in a native extension would)."""

    decay_style = "decoupled"

    def step(self, closure=None):
        import ctypes
        import faulthandler

        faulthandler.disable()  # the crash, not a dump of every thread, is the point
        ctypes.string_at(0)


class KilledInStep(_Momentum):
    """`step()` gets SIGKILL, as from the kernel's out-of-memory killer."""

    decay_style = "decoupled"

    def step(self, closure=None):
        import os
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


class ExitsHardAloneAtLargeLr(_Momentum):
    """Refuses to run stacked (its group falls back to one trial after another in one worker);
    alone, os._exit(3) at lr >= 0.05: a worker dies mid-way through a group's trials."""

    decay_style = "decoupled"

    def step(self, closure=None):
        import os

        for group in self.param_groups:
            for p in group["params"]:
                if p.untyped_storage().nbytes() > p.numel() * p.element_size():
                    raise RuntimeError("a slice of a stacked tensor: not for me")
            if group["lr"] >= 0.05:
                os._exit(3)
        return super().step(closure)


# --- construction: `wdbench check-optimizer`, validation (`sweep --with`, `run`) ----------

class HangsOnConstruction(_Momentum):
    """`__init__` never returns: validation and check-optimizer must answer, not hang."""

    decay_style = "decoupled"

    def __init__(self, params, lr=1e-2, weight_decay=0.0):
        import time

        while True:
            time.sleep(0.05)


class ExitsOnConstruction(_Momentum):
    """`__init__` raises SystemExit(0): not a refusal of the settings, not the end of wdbench."""

    decay_style = "decoupled"

    def __init__(self, params, lr=1e-2, weight_decay=0.0):
        raise SystemExit(0)


class KillsOnConstruction(_Momentum):
    """`__init__` ends its process at once (as a segfault or the OOM killer would)."""

    decay_style = "decoupled"

    def __init__(self, params, lr=1e-2, weight_decay=0.0):
        import os

        os._exit(3)


# --- process-wide state: what one trial's code changes must not reach the next trial ------

def _changes_process_state(name: str, change) -> type:
    """A conforming optimizer whose `__init__` also calls `change()` (process-wide state)."""

    def __init__(self, params, lr=1e-2, weight_decay=0.0, momentum=0.9):
        change()
        _Momentum.__init__(self, params, lr, weight_decay, momentum)

    return type(name, (_Momentum,), {"__init__": __init__, "decay_style": "decoupled",
                                     "__module__": __name__, "__qualname__": name})


def _seed_numpy() -> None:
    import numpy as np

    np.random.seed(1234)


def _seed_python() -> None:
    import random

    random.seed(1234)


# name -> what its __init__ changes; each class is importable as module:name
PROCESS_STATE_CHANGES = {
    "SetsDefaultDtype": lambda: torch.set_default_dtype(torch.float64),
    "SetsDefaultDevice": lambda: torch.set_default_device("meta"),
    "DisablesGrad": lambda: torch.set_grad_enabled(False),
    "SeedsTorch": lambda: torch.manual_seed(1234),
    "SeedsNumpy": _seed_numpy,
    "SeedsPython": _seed_python,
    "SetsThreads": lambda: torch.set_num_threads(torch.get_num_threads() + 3),
    "SetsDeterministic": lambda: torch.use_deterministic_algorithms(True),
}
for _name, _change in PROCESS_STATE_CHANGES.items():
    globals()[_name] = _changes_process_state(_name, _change)


class StartsThread(_Momentum):
    """Starts a non-daemon thread that never ends: Python would wait for it at exit."""

    decay_style = "decoupled"
    lr_grid = (0.01,)  # `sweep --with` adds one trial per seed
    weight_decay_grid = (0.1,)

    def __init__(self, params, lr=1e-2, weight_decay=0.0, momentum=0.9):
        import threading

        threading.Thread(target=threading.Event().wait, name="submission-thread").start()
        super().__init__(params, lr, weight_decay, momentum)
