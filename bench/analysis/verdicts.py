"""The scientific verdicts as data: does a set of trials agree with SPEC §1?

One verdict per (optimizer, settings, λ): the trials pooled over learning rates and seeds.
What is claimed depends on where decay enters:
  a style that implies an ℓ∞ radius (decoupled, independent, ...), with an ℓ∞-steepest
  direction (Adam, SignGD, Lion) and a theorem schedule (non-increasing, divergent sum):
      the iterates end inside the box ‖x‖∞ ≤ r          (claim BOX, metric linf_ratio)
  coupled decay (an ℓ2 penalty in the gradient):
      the end point is a stationary point of loss + λ/2‖x‖²  (claim L2, l2_stationarity)
  anything else: no claim, with the reason.
This module decides; it neither formats nor parses sentences (bench/report renders them).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

INSIDE_TOL = 1e-3  # linf_ratio <= 1 + INSIDE_TOL counts as inside (float round-off)
STATIONARY_TOL = 0.05  # median l2_stationarity below this counts as l2-stationary


class Agreement(str, Enum):
    AGREES = "agrees"
    DISAGREES = "disagrees"
    NO_CLAIM = "no-claim"
    NO_DATA = "no-data"


class Claim(str, Enum):
    BOX = "box"  # ‖x‖∞ ≤ r at the end
    L2 = "l2"  # stationary point of loss + λ/2‖x‖²


class Reason(str, Enum):
    INSIDE_BOX = "inside-box"
    OUTSIDE_BOX = "outside-box"
    L2_STATIONARY = "l2-stationary"
    NOT_L2_STATIONARY = "not-l2-stationary"
    ZERO_DECAY = "zero-decay"  # λ = 0: nothing to check
    NO_DECAY = "no-decay"  # the optimizer has no weight decay at all
    NO_RADIUS = "no-radius"  # the decay style implies no box
    NON_LINF_DIRECTION = "non-linf-direction"  # e.g. SGD: an ℓ2 direction
    NON_THEOREM_SCHEDULE = "non-theorem-schedule"
    UNKNOWN_SCHEDULE = "unknown-schedule"  # the record does not say
    ALL_DIVERGED = "all-diverged"
    NOT_FINISHED = "not-finished"  # no trial finished (failed, or none recorded)
    MISSING_METRICS = "missing-metrics"  # finished trials without the claim's metric


AGREEMENT = {
    Reason.INSIDE_BOX: Agreement.AGREES, Reason.L2_STATIONARY: Agreement.AGREES,
    Reason.OUTSIDE_BOX: Agreement.DISAGREES, Reason.NOT_L2_STATIONARY: Agreement.DISAGREES,
    Reason.ALL_DIVERGED: Agreement.NO_DATA, Reason.NOT_FINISHED: Agreement.NO_DATA,
    Reason.MISSING_METRICS: Agreement.NO_DATA,
}


@dataclass(frozen=True)
class Evidence:
    """What the trials of one (optimizer, settings, λ) say, pooled over lrs and seeds."""

    decay: str | None
    norm: str | None
    weight_decay: float
    radius: float | None  # implied by the decay style; None: no box
    schedule: str | None
    schedule_theorem: bool | None
    trials: int = 0
    finished: int = 0
    diverged: int = 0
    linf_ratios: tuple[float, ...] = ()  # finished trials that recorded one
    l2_stationarities: tuple[float, ...] = ()


@dataclass(frozen=True)
class Verdict:
    agreement: Agreement
    reason: Reason
    claim: Claim | None
    observed: Mapping[str, Any] = field(default_factory=dict)


def observed(ev: Evidence) -> dict[str, Any]:
    """The measured values a verdict reports, whatever it decides."""
    ratios = ev.linf_ratios
    inside = sum(r <= 1 + INSIDE_TOL for r in ratios)
    stat = statistics.median(ev.l2_stationarities) if ev.l2_stationarities else None
    return {"inside": inside, "inside_of": len(ratios),
            "max_linf_ratio": max(ratios) if ratios else None, "l2_stationarity": stat,
            "trials": ev.trials, "finished": ev.finished, "diverged": ev.diverged}


def claim_of(ev: Evidence) -> tuple[Claim | None, Reason | None]:
    """The claim SPEC §1 makes for these settings, or why it makes none."""
    if ev.decay in (None, "none"):
        return None, Reason.NO_DECAY
    if not ev.weight_decay > 0:
        return None, Reason.ZERO_DECAY
    if ev.decay == "coupled":
        return Claim.L2, None
    if ev.radius is None or not math.isfinite(ev.radius):
        return None, Reason.NO_RADIUS
    if ev.norm != "linf":
        return None, Reason.NON_LINF_DIRECTION
    if ev.schedule_theorem is None:
        return None, Reason.UNKNOWN_SCHEDULE
    if not ev.schedule_theorem:
        return None, Reason.NON_THEOREM_SCHEDULE
    return Claim.BOX, None


def judge(ev: Evidence) -> Verdict:
    """agrees / disagrees / no claim / no data, with the reason and the observed values."""
    seen = observed(ev)
    claim, why_not = claim_of(ev)
    if claim is None:
        return Verdict(Agreement.NO_CLAIM, why_not, None, seen)
    if not ev.finished:
        reason = Reason.ALL_DIVERGED if ev.trials and ev.diverged == ev.trials \
            else Reason.NOT_FINISHED
        return Verdict(AGREEMENT[reason], reason, claim, seen)
    if claim is Claim.BOX:
        if not ev.linf_ratios:
            return Verdict(Agreement.NO_DATA, Reason.MISSING_METRICS, claim, seen)
        reason = Reason.INSIDE_BOX if seen["inside"] == len(ev.linf_ratios) \
            else Reason.OUTSIDE_BOX
        return Verdict(AGREEMENT[reason], reason, claim, seen)
    if seen["l2_stationarity"] is None:
        return Verdict(Agreement.NO_DATA, Reason.MISSING_METRICS, claim, seen)
    reason = Reason.L2_STATIONARY if seen["l2_stationarity"] < STATIONARY_TOL \
        else Reason.NOT_L2_STATIONARY
    return Verdict(AGREEMENT[reason], reason, claim, seen)


def evidence(rows: Iterable[Mapping[str, Any]]) -> Evidence:
    """Evidence from flat rows (bench.ledger.store.flatten) of one (optimizer, settings, λ)."""
    rows = list(rows)
    if not rows:
        raise ValueError("evidence needs at least one row")
    first = rows[0]
    done = [r for r in rows if r.get("status") == "done"]

    def values(key: str) -> tuple[float, ...]:
        return tuple(float(_plain(r[key])) for r in done if _number(r.get(key)))

    return Evidence(decay=_text(first.get("decay")), norm=_text(first.get("norm")),
                    weight_decay=float(first.get("weight_decay") or 0.0),
                    radius=float(_plain(first["radius"])) if _number(first.get("radius")) else None,
                    schedule=_text(first.get("schedule")),
                    schedule_theorem=as_flag(first.get("schedule_theorem")),
                    trials=len(rows), finished=len(done),
                    diverged=sum(r.get("status") == "diverged" for r in rows),
                    linf_ratios=values("linf_ratio"),
                    l2_stationarities=values("l2_stationarity"))


def judge_records(records: Iterable[Mapping[str, Any]]) -> Verdict:
    """The verdict of the records (ledger dicts) of one (optimizer, settings, λ)."""
    from bench.ledger.store import flatten

    return judge(evidence(flatten(dict(r)) for r in records))


def _plain(value: Any) -> Any:
    """numpy/pandas scalars (np.bool_, np.float64) as Python ones."""
    return value.item() if hasattr(value, "item") and not isinstance(value, str) else value


def _number(value: Any) -> bool:
    value = _plain(value)
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def as_flag(value: Any) -> bool | None:
    value = _plain(value)
    if isinstance(value, bool):
        return value
    if _number(value):  # pandas may hand a bool column over as 0.0/1.0
        return bool(value)
    return None
