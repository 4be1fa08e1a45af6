"""What a claim is and what its verdict says (SPEC §3b), as plain frozen data.

A `Claim` is one statement of the literature made testable: where it comes from, what it
presupposes, which suites test it at each budget, its statistic and a threshold fixed here in
code before any run, and a pure `judge(records) -> ClaimVerdict`.

A verdict has one of four outcomes (`Outcome`), a one-line reason, the numbers it used and
the ids of the trials it used. A claim judges several cases (one per optimizer × variant ×
lr × λ configuration, seeds pooled); `ClaimVerdict` carries them and the claim-level verdict
that `bench/claims/judging.py:aggregate` derives from them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

BUDGETS = ("smoke", "cpu", "full")


class Outcome(str, Enum):
    HOLDS = "holds"
    VIOLATED = "violated"
    INCONCLUSIVE = "inconclusive"
    NOT_APPLICABLE = "not-applicable"


@dataclass(frozen=True)
class SuiteRun:
    """One suite file (a name under bench/suites/claims/) run at a task budget, with
    `--set`-style settings on top of the suite's (e.g. fewer steps at a budget)."""

    suite: str
    budget: str
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Statistic:
    """The number a claim is decided on: a final metric, its mean over seeds with a 95%
    Student-t interval, against a threshold. `band` is (low, high): holds when the interval
    lies inside it, violated when the interval lies wholly outside it (None: unbounded)."""

    metric: str
    description: str
    band: tuple[float | None, float | None]

    @property
    def threshold(self) -> dict[str, float | None]:
        low, high = self.band
        return {"low": low, "high": high}


@dataclass(frozen=True)
class CaseVerdict:
    """The verdict on one configuration (optimizer, variant, lr, λ), seeds pooled."""

    optimizer: str
    variant: str
    lr: float | None
    weight_decay: float | None
    outcome: Outcome
    reason: str
    statistic: float | None = None
    interval: tuple[float, float] | None = None
    numbers: Mapping[str, Any] = field(default_factory=dict)
    trials: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer, "variant": self.variant, "lr": self.lr,
                "weight_decay": self.weight_decay, "verdict": self.outcome.value,
                "reason": self.reason, "statistic": _num(self.statistic),
                "interval": _interval(self.interval), "numbers": _plain(self.numbers),
                "trials": list(self.trials)}


@dataclass(frozen=True)
class ClaimVerdict:
    """A claim's verdict: its outcome, reason, deciding statistic and interval, and cases."""

    claim: str
    outcome: Outcome
    reason: str
    statistic: float | None = None
    interval: tuple[float, float] | None = None
    cases: tuple[CaseVerdict, ...] = ()

    @property
    def trials(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for case in self.cases:
            seen.update(dict.fromkeys(case.trials))
        return tuple(seen)


@dataclass(frozen=True)
class Claim:
    """One claim of the literature; `judge` is a pure function of ledger records."""

    id: str  # '1', '2', ...: the CLI's handle and the registry order
    slug: str  # a name a reader recognises: 'xie-li-box'
    title: str
    source: str  # paper and arXiv id
    statement: str
    preconditions: tuple[str, ...]
    statistic: Statistic
    runs: Mapping[str, Sequence[SuiteRun]]  # budget -> the suites that test it
    judge: Callable[[Sequence[Mapping[str, Any]]], ClaimVerdict]

    def runs_for(self, budget: str) -> tuple[SuiteRun, ...]:
        return tuple(self.runs.get(budget, ()))

    def describe(self) -> dict[str, Any]:
        """What `wdbench claims list --json` prints."""
        return {"id": self.id, "slug": self.slug, "title": self.title, "source": self.source,
                "statement": self.statement, "preconditions": list(self.preconditions),
                "statistic": {"metric": self.statistic.metric,
                              "description": self.statistic.description},
                "threshold": self.statistic.threshold,
                "budgets": {b: [{"suite": r.suite, "task_budget": r.budget,
                                 "settings": dict(r.settings)} for r in self.runs_for(b)]
                            for b in BUDGETS if self.runs_for(b)}}

    def result(self, verdict: ClaimVerdict) -> dict[str, Any]:
        """One object of claims.json."""
        return {"id": self.id, "slug": self.slug, "source": self.source,
                "statement": self.statement, "verdict": verdict.outcome.value,
                "reason": verdict.reason, "statistic": _num(verdict.statistic),
                "statistic_name": self.statistic.metric,
                "interval": _interval(verdict.interval), "threshold": self.statistic.threshold,
                "trials": list(verdict.trials),
                "cases": [c.to_json() for c in verdict.cases]}


def _num(value: Any) -> float | None:
    """JSON has no NaN: a missing or non-finite number is null."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _interval(interval: tuple[float, float] | None) -> list[float | None] | None:
    return None if interval is None else [_num(interval[0]), _num(interval[1])]


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return _num(value)
    return value
