"""Range checks of optimizer hyper-parameters, written once and used by every direction.

Each raises ValueError naming the parameter, the allowed range and the value given; the
conformance check and the CLI turn it into a one-line error."""

from __future__ import annotations

from collections.abc import Sequence


def positive(name: str, value: float) -> float:
    """value > 0 (a learning rate)."""
    if not value > 0.0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return float(value)


def non_negative(name: str, value: float) -> float:
    """value >= 0 (a weight decay, an epsilon)."""
    if not value >= 0.0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return float(value)


def unit_interval(name: str, value: float) -> float:
    """A moving-average coefficient (a momentum, one beta): in [0, 1)."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return float(value)


def betas(value: Sequence[float], count: int = 2) -> tuple[float, ...]:
    """`count` moving-average coefficients, each in [0, 1)."""
    values = tuple(value)
    if len(values) != count or not all(0.0 <= b < 1.0 for b in values):
        raise ValueError(f"betas must be {count} numbers in [0, 1), got {value}")
    return tuple(float(b) for b in values)
