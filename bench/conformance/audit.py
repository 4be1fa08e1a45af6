"""`wdbench audit PACKAGE`: the measured decay semantics of every optimizer a package exports,
at its defaults and with each decay-related boolean flag flipped once, beside the style its
flags, class or documentation declare.

Each (optimizer, settings) is one decay probe (`decay_probe.measure_decay`, λ = 0.1) in a
forked child under the probe time limit (`probe_limit`). `--workers` children run at once,
driven from one thread that waits on all their pipes: forking (not a fresh interpreter) per
probe, and an optimizer that hangs, kills its process, raises SystemExit or prints without end
costs its own row only."""

from __future__ import annotations

import importlib.metadata
import math
import os
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import partial
from multiprocessing.connection import wait
from typing import Any

from bench.conformance.audit_discovery import (
    WRAP_BASE,
    Candidate,
    declared_style,
    discover,
    param_doc,
    settings_to_probe,
    wrapper_kwargs,
)
from bench.conformance.decay_probe import ProbeSettings
from bench.conformance.probe_limit import ProbeFailed, RunningProbe, start_probe

NOT_PROBED = "not probed"


@dataclass(frozen=True)
class Job:
    candidate: Candidate
    settings: dict[str, bool]


@dataclass
class AuditRow:
    optimizer: str  # package:Name
    settings: dict[str, bool]  # the flags set away from their defaults ({}: the defaults)
    decay_semantics: str | None  # a style, 'none', 'unknown', a tie (a=b); None: not probed
    declared: str | None  # the style the flags, class or docs declare; None: undeclared
    declared_from: str | None
    agrees: bool | None  # declared among the styles the measurement fits; None: no pair
    reason: str | None  # why not probed, or how (a wrapper around AdamW)
    evidence: str  # one line: what the probe saw, or the failure
    deviations: dict[str, dict[str, float | None]]  # stream -> style -> deviation / effect
    consistent_with: list[str] = field(default_factory=list)
    defined_in: str = ""
    aliases: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def settings_label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.settings.items()) or "defaults"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Audit:
    package: str
    version: str
    date: str
    probe: dict[str, Any]
    rows: list[AuditRow]
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        """Rows per measured semantics (not-probed rows under NOT_PROBED), largest first."""
        counted = Counter(r.decay_semantics or NOT_PROBED for r in self.rows)
        return dict(sorted(counted.items(), key=lambda kv: (-kv[1], kv[0])))

    def disagreements(self) -> list[AuditRow]:
        return [r for r in self.rows if r.agrees is False]

    def to_dict(self) -> dict[str, Any]:
        return {"package": self.package, "version": self.version, "date": self.date,
                "probe": self.probe, "seconds": round(self.seconds, 1),
                "classes": len({r.optimizer for r in self.rows}), "counts": self.counts(),
                "disagreements": len(self.disagreements()),
                "rows": [r.to_dict() for r in self.rows]}


def make_optimizer(candidate: Candidate, settings: dict[str, bool], params: Any, lr: float,
                   weight_decay: float) -> Any:
    """Build the candidate as the decay probe calls it: make(params, lr=, weight_decay=)."""
    cls = candidate.cls
    if candidate.wraps:
        import torch

        inner = torch.optim.AdamW(params, **wrapper_kwargs(candidate, lr, weight_decay))
        own = {"weight_decay": weight_decay} if candidate.wrapper_takes_decay else {}
        opt = cls(**{candidate.wraps: inner}, **own, **settings)
    else:
        opt = cls(params, lr=lr, weight_decay=weight_decay, **settings)
    if callable(getattr(opt, "train", None)):
        opt.train()  # schedule-free optimizers step only in train mode
    return opt


def probe_job(job: Job, probe: ProbeSettings) -> dict[str, Any]:
    """In the child: the decay verdict of one (optimizer, settings), as plain data."""
    from bench.conformance.decay_probe import measure_decay

    verdict = measure_decay(partial(make_optimizer, job.candidate, job.settings), probe)
    streams = ("zero_gradient", "mixed_gradient")
    return {"semantics": verdict.semantics, "consistent_with": list(verdict.consistent_with),
            "explanation": verdict.explanation,
            # A run that blew up gives NaN deviations: null in the JSON, not bare NaN.
            "deviations": {s: {k: round(v, 6) if math.isfinite(v) else None for k, v in
                               verdict.measurements[s]["deviation"].items()}
                           for s in streams if s in verdict.measurements}}


def _failure_reason(job: Job, err: ProbeFailed) -> str:
    text = f"probe failed: {err}"
    if "cuda" in text.lower() or "triton" in text.lower():
        return f"needs a GPU? {text}"
    if job.candidate.hint and "did not return" not in text:
        return f"{job.candidate.hint}: {text}"
    keys = re.findall(r"`(\w+)`", param_doc(job.candidate.cls, "params"))
    if keys:  # e.g. Muon's groups, each with a `use_muon` key
        return f"needs param groups with {', '.join(keys)} (its docstring): {text}"
    return text


def _row(job: Job, outcome: dict[str, Any] | ProbeFailed | None, seconds: float) -> AuditRow:
    c = job.candidate
    declared, declared_from = declared_style(c.cls, c.flags, job.settings)
    base = dict(optimizer=c.name, settings=job.settings, declared=declared,
                declared_from=declared_from, defined_in=c.defined_in, aliases=list(c.aliases),
                seconds=round(seconds, 3))
    if outcome is None:
        return AuditRow(**base, decay_semantics=None, agrees=None, reason=c.skip,
                        evidence=c.skip or "", deviations={})
    if isinstance(outcome, ProbeFailed):
        reason = _failure_reason(job, outcome)
        return AuditRow(**base, decay_semantics=None, agrees=None, reason=reason,
                        evidence=reason, deviations={})
    consistent = outcome["consistent_with"]
    agrees = None if declared is None else declared in consistent
    reason = None
    if c.wraps:
        where = "the wrapper's own weight_decay" if c.wrapper_takes_decay else "AdamW"
        reason = f"wrapper: probed around {WRAP_BASE}, weight_decay given to {where}"
    return AuditRow(**base, decay_semantics=outcome["semantics"], consistent_with=consistent,
                    agrees=agrees, reason=reason, evidence=outcome["explanation"],
                    deviations=outcome["deviations"])


def run_jobs(jobs: list[Job], probe: ProbeSettings, workers: int, timeout_s: float
             ) -> list[tuple[dict[str, Any] | ProbeFailed, float]]:
    """Each job's outcome (or ProbeFailed) and seconds, in job order, `workers` at a time."""
    outcomes: list[Any] = [None] * len(jobs)
    queue = list(range(len(jobs)))[::-1]
    running: dict[Any, tuple[int, RunningProbe, float]] = {}  # conn -> job, child, start
    while queue or running:
        while queue and len(running) < workers:
            index = queue.pop()
            child = start_probe(probe_job, (jobs[index], probe), quiet=True)
            running[child.conn] = (index, child, time.monotonic())
        first_deadline = min(start for _, _, start in running.values()) + timeout_s
        for conn in wait(list(running), timeout=max(0.0, first_deadline - time.monotonic())):
            index, child, start = running.pop(conn)
            try:
                outcomes[index] = (child.result(), time.monotonic() - start)
            except ProbeFailed as err:
                outcomes[index] = (err, time.monotonic() - start)
        now = time.monotonic()
        for conn, (index, child, start) in list(running.items()):
            if now - start >= timeout_s:
                del running[conn]
                outcomes[index] = (child.timed_out(timeout_s), now - start)
    return outcomes


def package_version(module: Any, package: str) -> str:
    version = getattr(module, "__version__", None)
    if version is None:
        try:
            version = importlib.metadata.version(package.split(".")[0].replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
    return str(version)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        os.cpu_count() or 1


def run_audit(package: str, workers: int | None = None, timeout_s: float = 60.0,
              probe: ProbeSettings | None = None) -> Audit:
    """Discover, probe (in parallel, each under `timeout_s`) and compare with declarations."""
    started = time.monotonic()
    probe = probe or ProbeSettings()
    module, candidates = discover(package)
    # Not probed: one row, not one per flag.
    jobs = [Job(c, s) for c in candidates
            for s in (settings_to_probe(c) if c.skip is None else [{}])]
    probed = [j for j in jobs if j.candidate.skip is None]
    # An optimizer's first step imports torch._dynamo (~800 modules, seconds): once here,
    # inherited by every forked child, rather than once per probe.
    import torch._dynamo  # noqa: F401
    outcomes = dict(zip(map(id, probed), run_jobs(probed, probe, workers or default_workers(),
                                                  timeout_s)))
    rows = [_row(j, *outcomes.get(id(j), (None, 0.0))) for j in jobs]
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return Audit(package=package, version=package_version(module, package), date=date,
                 probe={**asdict(probe), "timeout_s": timeout_s}, rows=rows,
                 seconds=time.monotonic() - started)
