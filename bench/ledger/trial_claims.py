"""Claims: which process is running which trial, so that many sweeps can share one ledger.

A running trial holds a claim file `<out>/claims/<id>.<generation>.json` (host, pid, job id,
when, heartbeat, step). Creating one is exclusive: the file is written under a temporary
name and hard-linked to its final name, which fails if that name exists (atomic on local
filesystems and NFS). The highest generation is the current claim. A stale claim (holder's
pid dead on this host, its SLURM job gone or restarted, or no heartbeat for `stale_after_s`)
is taken over by creating the next generation, so of two processes taking over at once only
one wins. The holder refreshes its own file by write-and-rename; a holder that finds a higher
generation has lost its claim and stops (see `Heartbeat`).
"""

from __future__ import annotations

import _thread
import json
import math
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from bench import input_files
from bench.ledger import damaged
from bench.ledger.shared_files import create_text, write_text


@dataclass(frozen=True)
class Owner:
    """Who claims: this process, and its SLURM job (array task) when it runs in one."""

    host: str
    pid: int
    job_id: str | None = None
    pid_started: str | None = None  # the pid's start time, so a reused pid is not mistaken

    @classmethod
    def current(cls) -> Owner:
        return cls(host=socket.gethostname(), pid=os.getpid(), job_id=slurm_job_id(),
                   pid_started=_process_start(os.getpid()))


@dataclass(frozen=True)
class Claim:
    trial_id: str
    generation: int
    host: str
    pid: int
    job_id: str | None
    pid_started: str | None
    claimed_at: float
    heartbeat: float
    step: int = 0


MAX_CLAIM_BYTES = 1 << 16
_CLAIM_TYPES = {"trial_id": str, "generation": int, "host": str, "pid": int,
                "job_id": (str, type(None)), "pid_started": (str, type(None)),
                "claimed_at": (int, float), "heartbeat": (int, float), "step": int}


def claim_from(data: Any) -> Claim | None:
    """A Claim from a claim file's JSON; None where it is not one (a field missing, unknown
    or of the wrong type, a pid or time out of range)."""
    if not isinstance(data, dict) or set(data) - {f.name for f in fields(Claim)}:
        return None
    for key, kind in _CLAIM_TYPES.items():
        if key in data and (not isinstance(data[key], kind) or isinstance(data[key], bool)):
            return None
    try:
        claim = Claim(**data)
    except TypeError:  # a field missing
        return None
    if not 0 < claim.pid < 2**31 or claim.generation < 0:
        return None
    if not (math.isfinite(claim.claimed_at) and math.isfinite(claim.heartbeat)):
        return None
    return claim


def slurm_job_id() -> str | None:
    """`<array job>_<task>` inside an array task, the job id inside a plain job, else None."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID")


def _process_start(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, after the command name


def pid_alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now = _process_start(pid)
    return started is None or now is None or now == started


class ClaimStore:
    """The claims of one results directory."""

    def __init__(self, out: str | os.PathLike, stale_after_s: float = 300.0,
                 live_jobs: Callable[[], set[str] | None] | None = None) -> None:
        self.dir = Path(out) / "claims"
        self.stale_after_s = stale_after_s
        # Job ids SLURM still runs (None: no SLURM here); a claim of a job gone is stale.
        self.live_jobs = live_jobs or (lambda: None)

    def _path(self, trial_id: str, generation: int) -> Path:
        return self.dir / f"{trial_id}.{generation:06d}.json"

    def _generations(self, trial_id: str) -> list[int]:
        if not self.dir.is_dir():
            return []
        names = (p.name.split(".") for p in self.dir.glob(f"{trial_id}.*.json"))
        # A name not of the form <id>.<generation>.json is no claim of this trial.
        return sorted(int(n[1]) for n in names if len(n) == 3 and n[1].isdigit())

    def _read(self, path: Path) -> Claim | None:
        """The claim in `path`; None where it was released meanwhile, or is damaged (then
        set aside with a warning: it holds no trial)."""
        try:
            data = json.loads(input_files.read_text(path, MAX_CLAIM_BYTES))
        except FileNotFoundError:
            return None  # released meanwhile
        except (OSError, ValueError) as err:  # not JSON, not a regular file, too large
            damaged.set_aside(path, f"{type(err).__name__}: {err}")
            return None
        claim = claim_from(data)
        if claim is None:
            damaged.set_aside(path, "not a claim: a field is missing or of the wrong type")
        return claim

    def current(self, trial_id: str) -> Claim | None:
        """The highest-generation claim of a trial (live or stale), if any."""
        for generation in reversed(self._generations(trial_id)):
            claim = self._read(self._path(trial_id, generation))
            if claim is not None:
                return claim
        return None

    def all_current(self) -> list[Claim]:
        if not self.dir.is_dir():
            return []
        ids = {p.name.split(".")[0] for p in self.dir.glob("[!.]*.json")}
        return [c for c in (self.current(i) for i in sorted(ids)) if c is not None]

    def is_stale(self, claim: Claim, me: Owner | None = None, now: float | None = None,
                 live_jobs: set[str] | None = None) -> bool:
        me = me or Owner.current()
        now = time.time() if now is None else now
        if now - claim.heartbeat > self.stale_after_s:
            return True
        if claim.host == me.host and not pid_alive(claim.pid, claim.pid_started):
            return True
        if claim.job_id and claim.job_id == me.job_id and claim.pid != me.pid:
            return True  # our own array task, requeued: the earlier run is gone
        live = live_jobs if live_jobs is not None else self.live_jobs()
        return bool(claim.job_id and live is not None and claim.job_id not in live)

    def live(self) -> list[Claim]:
        me, jobs = Owner.current(), self.live_jobs()
        return [c for c in self.all_current() if not self.is_stale(c, me, live_jobs=jobs)]

    def acquire(self, trial_id: str, me: Owner | None = None) -> Claim | None:
        """Claim a trial; None when someone else holds a live claim or won the race."""
        me = me or Owner.current()
        listed = self._generations(trial_id)
        top = self.current(trial_id)
        if top is not None and not self.is_stale(top, me):
            return None
        now = time.time()
        generation = max([*listed, top.generation if top else -1]) + 1
        claim = Claim(trial_id, generation, me.host, me.pid, me.job_id, me.pid_started,
                      now, now)
        if not self._create_exclusive(claim):
            return None
        if not self.holds(claim):
            # A rival's newer generation appeared while we looked (we saw its superseded
            # predecessor vanish): it is the claim, ours is void.
            self.release(claim)
            return None
        for generation in self._generations(trial_id):
            if generation < claim.generation:  # superseded: nobody reads them any more
                self._path(trial_id, generation).unlink(missing_ok=True)
        return claim

    def holds(self, claim: Claim) -> bool:
        """Still the current claim (nobody took over)?"""
        gens = self._generations(claim.trial_id)
        return bool(gens) and gens[-1] == claim.generation

    def refresh(self, claim: Claim, step: int) -> Claim | None:
        """Heartbeat; None when the claim was lost to a takeover."""
        if not self.holds(claim):
            return None
        fresh = replace(claim, heartbeat=time.time(), step=step)
        write_text(self._path(claim.trial_id, claim.generation), json.dumps(asdict(fresh)))
        return fresh if self.holds(fresh) else None

    def release(self, claim: Claim) -> None:
        self._path(claim.trial_id, claim.generation).unlink(missing_ok=True)

    def _create_exclusive(self, claim: Claim) -> bool:
        self.dir.mkdir(parents=True, exist_ok=True)
        return create_text(self._path(claim.trial_id, claim.generation),
                           json.dumps(asdict(claim)))


class Heartbeat:
    """Refresh a claim every `interval_s` from a thread. A write that fails (a full disk, a
    read-only remount, an NFS hiccup) is retried at the next beat, with one warning, for as
    long as the claim is ours; a lost claim (another process took it over) calls `on_lost`,
    by default an interrupt of the main thread: the trial stops, and `lost` tells the caller
    why. `confirm` asks, right before the trial's record is written, whether it may be."""

    def __init__(self, store: ClaimStore, claim: Claim, interval_s: float,
                 on_lost: Callable[[], None] = _thread.interrupt_main) -> None:
        self.store, self.claim, self.interval_s, self.on_lost = store, claim, interval_s, on_lost
        self.step = 0
        self.lost = False
        self.failing: str | None = None  # the write error, while writes fail
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="wdbench-claim")
        self._restore: Any = None  # the SIGINT handler to put back (_python_sigint)

    def set_step(self, step: int) -> None:
        self.step = step

    def beat(self) -> bool:
        """One refresh; False once the claim is lost. A failed write leaves the claim ours
        unless a rival's took its place."""
        try:
            fresh = self.store.refresh(self.claim, self.step)
        except OSError as err:
            self._failed(err)
            return self._still_held()
        self.failing = None
        if fresh is None:
            self.lost = True
            return False
        self.claim = fresh
        return True

    def confirm(self, tries: int = 3, pause_s: float = 0.5) -> bool:
        """Whether this process may write the trial's record: the beats stop, the claim is
        refreshed now (a failed write tried `tries` times) and nobody took it over. A
        refresh that keeps failing still answers from the claims' listing."""
        self._halt()
        for attempt in range(tries):
            if self.lost:
                return False
            try:
                fresh = self.store.refresh(self.claim, self.step)
            except OSError as err:
                self._failed(err)
                if attempt + 1 < tries:
                    time.sleep(pause_s)
                continue
            if fresh is None:
                self.lost = True
                return False
            self.claim = fresh
            return True
        return self._still_held()

    def _still_held(self) -> bool:
        try:
            held = self.store.holds(self.claim)
        except OSError:
            return True  # the listing fails too: cannot tell, ask again at the next beat
        self.lost = self.lost or not held
        return held

    def _failed(self, err: OSError) -> None:
        if self.failing is None:
            print(f"wdbench: warning: the claim of trial {self.claim.trial_id} could not be "
                  f"refreshed ({type(err).__name__}: {err}); retrying", file=sys.stderr)
        self.failing = str(err)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval_s):
            if not self.beat():
                self.on_lost()
                return

    def _halt(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def __enter__(self) -> Heartbeat:
        self._restore = _python_sigint() if self.on_lost is _thread.interrupt_main else None
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._halt()
        if self._restore is not None:
            signal.signal(signal.SIGINT, self._restore)


def _python_sigint() -> Any:
    """Let `_thread.interrupt_main` reach this process's main thread: it does nothing where
    SIGINT is ignored or at its default, and a sweep started in the background (`wdbench sweep
    … &` in a script: the shell ignores SIGINT for it) would then never stop the trial of a
    lost claim. Python's own handler is installed until the heartbeat ends; returns the one to
    restore (None: nothing changed)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    old = signal.getsignal(signal.SIGINT)
    if old not in (signal.SIG_IGN, signal.SIG_DFL):
        return None
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return old
