"""Which target SPEC §1 names for a setting, read from its record, before any number is looked at:

  a decay style that implies an ℓ∞ radius (decoupled, independent, ...), with an ℓ∞-steepest
  direction (Adam, SignGD, Lion) and a theorem schedule (non-increasing, divergent sum):
      the ℓ∞ box ‖x‖∞ ≤ r                                         (Target.BOX)
  coupled decay (an ℓ2 penalty in the gradient):
      a stationary point of loss + λ/2‖x‖²                         (Target.L2)
  anything else: no target, with the reason (`Outside`) and its phrase (`why_outside`).

The claims' preconditions build on it (bench/claims/conditions.py:linf_theorem); the verdicts
themselves are the claims' (holds / violated / inconclusive / not-applicable, SPEC §3b).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

INSIDE_TOL = 1e-3  # linf_ratio <= 1 + INSIDE_TOL counts as inside (float round-off)
STATIONARY_TOL = 0.05  # l2_stationarity at or below: at a stationary point of loss + λ/2‖x‖²


class Target(str, Enum):
    BOX = "box"  # ‖x‖∞ ≤ r at the limit
    L2 = "l2"  # a stationary point of loss + λ/2‖x‖²


class Outside(str, Enum):
    """Why SPEC §1 names no target for a setting."""

    NO_DECAY = "no-decay"  # the optimizer has no weight decay at all
    ZERO_DECAY = "zero-decay"  # λ = 0: nothing to check
    NO_RADIUS = "no-radius"  # the decay style implies no box
    NON_LINF_DIRECTION = "non-linf-direction"  # e.g. SGD: an ℓ2 direction
    NON_THEOREM_SCHEDULE = "non-theorem-schedule"
    UNKNOWN_SCHEDULE = "unknown-schedule"  # the record does not say


@dataclass(frozen=True)
class Setting:
    """What one record says about where its decay should lead (a flat row's fields)."""

    decay: str | None
    norm: str | None
    weight_decay: float
    radius: float | None  # implied by the decay style; None: no box
    schedule: str | None
    schedule_theorem: bool | None


def setting(row: Mapping[str, Any]) -> Setting:
    """The setting of a flat row (bench/ledger/store.py:flatten; both schema versions)."""
    radius = _plain(row.get("radius"))
    return Setting(decay=_text(row.get("decay")), norm=_text(row.get("norm")),
                   weight_decay=float(_plain(row.get("weight_decay")) or 0.0),
                   radius=float(radius) if _number(radius) else None,
                   schedule=_text(row.get("schedule")),
                   schedule_theorem=as_flag(row.get("schedule_theorem")))


def target_of(s: Setting) -> tuple[Target | None, Outside | None]:
    """The target SPEC §1 names for this setting, or why it names none."""
    if s.decay in (None, "none"):
        return None, Outside.NO_DECAY
    if not s.weight_decay > 0:
        return None, Outside.ZERO_DECAY
    if s.decay == "coupled":
        return Target.L2, None
    if s.radius is None or not math.isfinite(s.radius):
        return None, Outside.NO_RADIUS
    if s.norm != "linf":
        return None, Outside.NON_LINF_DIRECTION
    if s.schedule_theorem is None:
        return None, Outside.UNKNOWN_SCHEDULE
    if not s.schedule_theorem:
        return None, Outside.NON_THEOREM_SCHEDULE
    return Target.BOX, None


def why_outside(reason: Outside, s: Setting) -> str:
    """The reason as a phrase a verdict quotes: 'cosine is not a theorem schedule'."""
    return {
        Outside.NO_DECAY: "no weight decay",
        Outside.ZERO_DECAY: "λ = 0",
        Outside.NO_RADIUS: f"{s.decay} decay implies no box",
        Outside.NON_LINF_DIRECTION: f"{s.norm}-norm direction",
        Outside.NON_THEOREM_SCHEDULE: f"{s.schedule} is not a theorem schedule",
        Outside.UNKNOWN_SCHEDULE: "schedule not recorded",
    }[reason]


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
