"""How the local pool's workers (bench/executors/process_pool.py) start: forked from
multiprocessing's fork server, which imports torch once for the sweep's process (PRELOAD), instead
of spawned (a fresh interpreter importing torch itself: about 4 CPU-seconds for every worker, and
again for every replacement of a worker that died). Without a fork server (Windows): spawned.

The fork server is started by the first pool of a process, with that moment's state; a forked
worker starts from it. So each worker is handed what a spawned one inherits at its own start
and the server may hold stale: the environment, stdout and stderr (the working directory and
sys.path travel with every start method). A worker follows the sweep's process, not its parent
(the server): it exits as soon as the sweep's process is gone."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from dataclasses import dataclass
from multiprocessing import reduction
from typing import Any

# What every worker imports (torch._dynamo: as its first optimizer is built, seconds, most of it
# sympy); neither reads a user setting at import, starts a thread or touches CUDA.
PRELOAD = ["torch", "torch._dynamo"]


def context() -> Any:
    """The multiprocessing context workers start from (see the module doc)."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)  # takes effect when this process starts the server
    return ctx


@dataclass
class Inherited:
    """What a worker takes over from the sweep's process at its start: the environment, and
    the file descriptors of stdout and stderr (None: closed in the sweep's process)."""

    env: dict[str, str]
    stdout: int | None = None
    stderr: int | None = None

    @classmethod
    def now(cls) -> Inherited:
        return cls(dict(os.environ), 1, 2)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as the worker starts: the descriptors go with it as multiprocessing sends
        # a pipe's (reduction.DupFd; duplicated, received as the worker's own).
        return (_received, (self.env, _fd(self.stdout), _fd(self.stderr)))

    def adopt(self) -> None:
        """In the worker: make the environment and the two streams the sweep's."""
        os.environ.clear()
        os.environ.update(self.env)
        for ours, theirs in ((1, self.stdout), (2, self.stderr)):
            if theirs is not None:
                os.dup2(theirs, ours)
                os.close(theirs)


def _fd(fd: int | None) -> Any:
    if fd is None:
        return None
    try:
        os.fstat(fd)
    except OSError:
        return None  # closed here: the worker keeps what it has
    return reduction.DupFd(fd)


def _received(env: dict[str, str], stdout: Any, stderr: Any) -> Inherited:
    return Inherited(env, *(None if s is None else s.detach() for s in (stdout, stderr)))


def follow_parent() -> None:
    """In a worker: exit as soon as the sweep's process is gone (SIGKILL, SIGTERM), instead of
    training on and then hanging on a dead pipe; and leave Ctrl-C to the sweep's process,
    which prints one line (workers would each print a traceback). The sweep's process holds
    one end of a pipe for as long as it lives (multiprocessing's parent sentinel): its end
    is the sweep's end, with no polling."""
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = mp.parent_process()
    if parent is None:  # not started by multiprocessing: nothing to follow
        return

    def watch() -> None:
        parent.join()
        os._exit(1)  # the claim expires with its heartbeat; the next sweep re-runs the trial

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()
