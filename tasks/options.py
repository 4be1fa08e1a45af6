"""Task options declared once: name, default, type, allowed range, help.

Every task lists its `TaskOption`s; `parse_options` is the one place where `--set
task.NAME=value` settings (and a budget's own options) are coerced and checked, and
`wdbench list --task T` prints the same declarations."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Range:
    """low <= v <= high (either end optional; `*_open` makes it strict)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __call__(self, value: Any) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"in {left}{_num(self.low)}, {_num(self.high)}{right}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {_num(self.low)}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {_num(self.high)}"
        return "any value"


def _num(value: float) -> str:
    """An int bound exactly (2**32 - 1 as 4294967295), a float one short (1e+06)."""
    return str(value) if isinstance(value, int) else f"{value:g}"


@dataclass(frozen=True)
class OneOf:
    choices: tuple[Any, ...]

    def __call__(self, value: Any) -> bool:
        return value in self.choices

    def __str__(self) -> str:
        return f"one of {', '.join(map(str, self.choices))}"


def at_least(low: float) -> Range:
    return Range(low=low)


def positive() -> Range:
    return Range(low=0, low_open=True)


def between(low: float, high: float) -> Range:
    return Range(low=low, high=high)


# A scale of a synthetic instance (kappa, lambda_ref): far beyond these the instance is all
# zeros or all infinities in float64, and the trial fails at its first metric.
SCALE = between(1e-6, 1e6)
SEED = between(0, 2**63 - 1)  # a torch.Generator seed has 64 bits


@dataclass(frozen=True)
class TaskOption:
    """One `--set task.NAME=value` option. `nullable`: None is a valid value (e.g. 'all')."""

    name: str
    default: Any
    type: type
    help: str
    check: Range | OneOf | None = None
    nullable: bool = False

    def allowed(self) -> str:
        """The valid values in words: 'an int >= 1', 'one of dense, diagonal', '... or null'."""
        if isinstance(self.check, OneOf):
            text = str(self.check)
        else:
            kind = self.type.__name__
            text = f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"
            text += f" {self.check}" if self.check is not None else ""
        return text + (" or null" if self.nullable else "")

    def parse(self, value: Any) -> Any:
        """The value coerced to the declared type; ValueError naming option, value, range."""
        if value is None and self.nullable:
            return None
        coerced = _coerce(value, self.type)
        if coerced is _INVALID or (self.check is not None and not self.check(coerced)):
            raise ValueError(f"task.{self.name}={value!r} is not allowed; use {self.allowed()}")
        return coerced


_INVALID = object()
_TRUE, _FALSE = ("true", "yes", "on"), ("false", "no", "off")


def _coerce(value: Any, kind: type) -> Any:
    """CLI values arrive as YAML scalars or strings ('1e2'): accept any exact spelling."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        return True if text in _TRUE else False if text in _FALSE else _INVALID
    if kind is str:
        return value if isinstance(value, str) else _INVALID
    if isinstance(value, bool):  # True is an int in Python, never a number here
        return _INVALID
    try:
        number = float(value)
    except (TypeError, ValueError):
        return _INVALID
    if kind is int:
        return int(number) if number.is_integer() else _INVALID
    return number if math.isfinite(number) else _INVALID  # inf breaks every instance


def parse_options(task: str, declared: Iterable[TaskOption],
                  given: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with `given`, every value parsed; unknown names are an error."""
    by_name = {o.name: o for o in declared}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        raise ValueError(f"unknown {task} option(s) {', '.join(unknown)}; use task.NAME with "
                         f"NAME in: {', '.join(by_name)}")
    return {name: opt.parse(given[name]) if name in given else opt.default
            for name, opt in by_name.items()}
