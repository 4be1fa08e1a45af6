"""What a Trial field is, declared once per field on the `Trial` dataclass (bench/trial/config.py)
with `declare`: its type (the annotation; `X | None` where None is allowed), its range, what
None means, its help, whether the id leaves it out at its default, whether it may vary within
a stacked group, its part in the statistics, and whether it is a `--set` / suite key and a
record column.

Everything else reads the declaration: the type and range checks here (one-line errors naming
key, value and the allowed values), the `--set` keys, suite keys and CLI help, the stacked
grouping key (bench/executors/plan.py), the schema's trial columns (bench/schema.py), the
ledger's flat table (bench/ledger/store.py) and the key of a (configuration, seed) that the
analysis counts once (`Trial.config_key`).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, dataclass
from typing import Any

from bench.errors import UsageError

# A field's part in the statistics: what makes two records one sample.
AXIS = "axis"  # the configuration; the analysis keys on it by name (task, optimizer, lr, ...)
VARIANT = "variant"  # the configuration; named as a report variant where it varies
SEED = "seed"  # the replicate: one (configuration, seed) is one sample
BOOKKEEPING = "bookkeeping"  # how a trial is run or asked for, not what it measures: the id only
ROLES = (AXIS, VARIANT, SEED, BOOKKEEPING)

PRECISIONS = ("no", "bf16", "fp16")
_METADATA = "trial_field"


class SettingError(UsageError):
    """A bad value for one key; `at(source)` names where it came from."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r} is not allowed; use {allowed}")

    def at(self, source: str | None) -> UsageError:
        return UsageError(f"{self} (from {source})" if source else str(self))


@dataclass(frozen=True)
class TrialField:
    """One field's declaration. `name`, `kind`, `nullable`, `default` and `required` come from
    the dataclass field (its name, annotation and default); the rest is given to `declare`."""

    help: str
    role: str
    low: float | None = None  # the lowest allowed number
    strict: bool = False  # low itself is not allowed
    high: float | None = None  # the highest allowed number
    example: str = ""  # shown in the allowed values: 'e.g. 1e-3'
    null: str | None = None  # what None means, for a field annotated `X | None`
    choices: Callable[[], tuple[str, ...]] | None = None  # allowed names (imported late)
    words: str = ""  # the allowed values in words where the type says too little (names)
    per_member: bool = False  # may differ between the members of one stacked group
    setting: bool = True  # a `--set` key and a suite key
    column: bool = True  # a column of the record's flat table (bench/schema.py)
    column_note: str = ""  # what the column holds beyond the help (default: what empty means)
    symbol: str | None = None  # a header's symbol (λ for weight_decay)
    id_omits_default: bool = False  # added after ids were first made: at its default the id
    # leaves it out, so that every earlier trial keeps its id (and its record)
    name: str = ""
    kind: type = object
    nullable: bool = False
    default: Any = None
    required: bool = False  # no default: every Trial gives it

    @property
    def definition(self) -> str:
        """The record column's definition (bench/schema.py)."""
        text = self.help[0].upper() + self.help[1:]
        note = self.column_note or (f"empty: {self.null}" if self.nullable else "")
        return f"{text}; {note}" if note else text

    @property
    def fmt(self) -> str:
        return {float: "g3", int: "int"}.get(self.kind, "text")

    def allowed(self) -> str:
        """The allowed values in words: 'a finite number > 0, e.g. 1e-3', 'one of no, bf16'."""
        if self.choices is not None:
            text = f"one of {', '.join(self.choices())}"
        elif self.kind is float:
            text = "a finite number" + (f" {'>' if self.strict else '>='} {self.low:g}"
                                        if self.low is not None else "")
        elif self.kind is int:
            text = ("a non-negative integer" if self.low == 0 and not self.strict
                    else "an integer" + (f" {'>' if self.strict else '>='} {self.low:g}"
                                         if self.low is not None else ""))
        elif self.kind is bool:
            text = "true or false"
        elif self.kind is tuple:
            text = "a mapping of option names to values"
        else:
            text = self.words or "a name (wdbench list)"
        if self.high is not None:
            text += f" <= {int(self.high)}" if self.kind is int else f" <= {self.high:g}"
        text += f", e.g. {self.example}" if self.example else ""
        return text + (f", or null ({self.null})" if self.nullable else "")

    def coerce(self, value: Any) -> Any:
        """The value in the field's type and range (SettingError otherwise)."""
        if value is None and self.nullable:
            return None
        if self.kind in (float, int):
            try:
                v = number(self.name, value, self.kind, "")
            except SettingError as err:  # the words are made only for the error
                raise SettingError(self.name, err.value, self.allowed()) from None
            too_low = self.low is not None and (v <= self.low if self.strict else v < self.low)
            too_high = self.high is not None and v > self.high
            if not math.isfinite(v) or too_low or too_high:
                raise SettingError(self.name, value, self.allowed())
            return v
        if self.kind is bool:
            return _boolean(self.name, value)
        if self.choices is not None:
            if value not in self.choices():
                raise SettingError(self.name, value, self.allowed())
            return value
        if self.kind is str and (not isinstance(value, str) or not value):
            raise SettingError(self.name, value, self.allowed())
        return value

    def normal(self, value: Any) -> Any:
        """The value as statistics compare it: lr=1 and lr=1.0 are one configuration."""
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if self.kind is tuple:  # options: (key, value) pairs in a Trial, a mapping in a record
            return dict(value or {})
        return value


def declare(help: str, role: str, *, default: Any = MISSING, **declaration: Any) -> Any:
    """A Trial dataclass field carrying its declaration (see TrialField for the keywords)."""
    if role not in ROLES:
        raise ValueError(f"role {role!r}: use one of {', '.join(ROLES)}")
    spec = TrialField(help=help, role=role, **declaration)
    return dataclasses.field(default=default, metadata={_METADATA: spec})


def declared(cls: type) -> tuple[TrialField, ...]:
    """The declarations of a dataclass's fields, completed from each field's name, annotation
    and default; TypeError where a field is undeclared or its annotation and `null` disagree."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get(_METADATA)
        if spec is None:
            raise TypeError(f"{cls.__name__}.{f.name} has no declaration; use declare(...)")
        kind, nullable = _kind(hints[f.name])
        if nullable != (spec.null is not None):
            raise TypeError(f"{cls.__name__}.{f.name}: annotate `X | None` exactly where "
                            "`null=` says what None means")
        required = f.default is MISSING
        out.append(dataclasses.replace(spec, name=f.name, kind=kind, nullable=nullable,
                                       default=None if required else f.default,
                                       required=required))
    return tuple(out)


def _kind(annotation: Any) -> tuple[type, bool]:
    """(the type, whether None is allowed) of `float`, `int | None`, `tuple[...]`, ..."""
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        kinds = [a for a in args if a is not type(None)]
        return _kind(kinds[0])[0], len(kinds) < len(args)
    return typing.get_origin(annotation) or annotation, False


def number(key: str, value: Any, kind: type, allowed: str) -> Any:
    """`value` as an exact float or int (bools, text, NaN and non-integral ints refused)."""
    if isinstance(value, bool):
        raise SettingError(key, value, allowed)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise SettingError(key, value, allowed) from None
    if not isinstance(value, (int, float)) or (isinstance(value, float) and math.isnan(value)):
        raise SettingError(key, value, allowed)
    if kind is int:
        if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
            raise SettingError(key, value, allowed)
        return int(value)
    return float(value)


def _boolean(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise SettingError(key, value, "true or false")


def schedules() -> tuple[str, ...]:
    from bench.trial.schedules import SCHEDULES

    return tuple(SCHEDULES)


def mask_policies() -> tuple[str, ...]:
    """Every built-in task's policies; the trial's own task's are checked in validation."""
    from tasks.masks import ALL_POLICIES  # imports torch: only when a mask is checked

    return ALL_POLICIES


def precisions() -> tuple[str, ...]:
    return PRECISIONS
