"""The types of a record's fields, checked when a record is read.

A record with the right schema can still hold one field of the wrong type (edited by hand,
written by another program, planted in a shared directory): `final` a list, `lr` a string.
Every reader (report, status, sweep, export) would then fail on it, far from the file. So
reading checks every field the readers compute with; a record that fails is damaged, set
aside or skipped with one warning naming the file and the field, as a truncated one is.
Fields the readers only pass through (a task's own metrics, `rotation` maps) are left free.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.trial.config import FIELDS


@dataclass(frozen=True)
class Kind:
    test: Callable[[Any], bool]
    expected: str

    def __call__(self, value: Any) -> bool:
        return self.test(value)

    def or_null(self) -> Kind:
        return Kind(lambda v: v is None or self.test(v), f"{self.expected} or null")


_number = Kind(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number")
_integer = Kind(lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer")
_text = Kind(lambda v: isinstance(v, str), "text")
_flag = Kind(lambda v: isinstance(v, bool), "true or false")
_mapping = Kind(lambda v: isinstance(v, dict), "a mapping")
# A metric's value: a number, a flag or null (NaN and inf are stored as null).
_metric = Kind(lambda v: v is None or isinstance(v, (int, float)), "a number or null")
_scalar = Kind(lambda v: v is None or isinstance(v, (int, float, str)), "a number or text")
_metric_or_map = Kind(lambda v: _metric(v) or isinstance(v, dict),  # rotation maps pass
                      "a number, null or a mapping")
_metric_or_list = Kind(lambda v: _metric(v) or (isinstance(v, list) and all(map(_metric, v))),
                       "a number, null or a list of numbers")


def _optional(kind: Kind) -> Kind:
    return kind.or_null()


# A record's config: each Trial field in the type its declaration gives (bench/trial/config.py).
_BY_KIND: Mapping[type, Kind] = {float: _number, int: _integer, str: _text, bool: _flag,
                                 tuple: _mapping}  # options: a mapping in a record
CONFIG: Mapping[str, Kind] = {f.name: _BY_KIND[f.kind].or_null() if f.nullable
                              else _BY_KIND[f.kind] for f in FIELDS.values()}
# Sections with named fields: {section: {field: check}} (a section may be absent or null).
SECTIONS: Mapping[str, Mapping[str, Kind]] = {
    "optimizer": {"decay": _optional(_text), "direction": _optional(_text),
                  "norm": _optional(_text), "radius": _optional(_number),
                  "metric_radius": _optional(_number), "lr_max": _optional(_number)},
    "schedule": {"name": _optional(_text), "schedule_theorem": _optional(_flag)},
    "mask": {"policy": _optional(_text), "decayed": _optional(_integer),
             "undecayed": _optional(_integer), "decayed_numel": _optional(_integer),
             "undecayed_numel": _optional(_integer)},
    "task": {"n_params": _optional(_integer), "steps": _optional(_integer),
             "batch_size": _optional(_integer), "eval_every": _optional(_integer),
             "data_fingerprint": _optional(_text), "data_source": _optional(_text),
             "selection_metric": _optional(_text), "selection_mode": _optional(_text),
             "headline_figure": _optional(_text)},
    "target": {"metric": _optional(_text), "value": _optional(_number),
               "reached": _optional(_flag), "steps_to_target": _optional(_number)},
    "stacked": {"group": _text, "size": _integer, "index": _integer},
}
# Sections whose every value has one type: {section: check of each value}.
UNIFORM: Mapping[str, Kind] = {"final": _metric_or_map, "best": _metric,
                                "timing": _metric_or_list, "timescale": _metric,
                                "env": _scalar}
TOP: Mapping[str, Kind] = {"id": _text, "schema": _integer, "suite": _optional(_text),
                            "code_fingerprint": _optional(_text), "error": _optional(_text),
                            "diverged_at": _optional(_integer)}


def problem(record: dict[str, Any]) -> str | None:
    """The first field of the wrong type, as 'field: expected, got value'; None if none."""
    for key, check in TOP.items():
        if key in record and not check(record[key]):
            return _wrong(key, check, record[key])
    if not record.get("id"):
        return "id: empty"
    for key, check in CONFIG.items():
        if key in record["config"] and not check(record["config"][key]):
            return _wrong(f"config.{key}", check, record["config"][key])
    for section, fields in SECTIONS.items():
        value = record.get(section)
        if value is None:
            continue
        if not isinstance(value, dict):
            return _wrong(section, _mapping, value)
        for key, check in fields.items():
            if key in value and not check(value[key]):
                return _wrong(f"{section}.{key}", check, value[key])
    for section, check in UNIFORM.items():
        value = record.get(section)
        if value is None:
            continue
        if not isinstance(value, dict):
            return _wrong(section, _mapping, value)
        for key, item in value.items():
            if not check(item):
                return _wrong(f"{section}.{key}", check, item)
    return _curve_problem(record.get("curve")) or _per_tensor_problem(record.get("per_tensor"))


def _curve_problem(curve: Any) -> str | None:
    if curve is None:
        return None
    if not isinstance(curve, list):
        return f"curve: expected a list of evaluation points, got {_show(curve)}"
    for i, point in enumerate(curve):
        if not isinstance(point, dict):
            return _wrong(f"curve[{i}]", _mapping, point)
        if not _integer(point.get("step")):
            return _wrong(f"curve[{i}].step", _integer, point.get("step"))
        for key, value in point.items():
            if not _metric_or_map(value):
                return _wrong(f"curve[{i}].{key}", _metric_or_map, value)
    return None


def _per_tensor_problem(per_tensor: Any) -> str | None:
    if per_tensor is None:
        return None
    if not isinstance(per_tensor, dict):
        return _wrong("per_tensor", _mapping, per_tensor)
    for name, metrics in per_tensor.items():
        if not isinstance(metrics, dict):
            return _wrong(f"per_tensor.{name}", _mapping, metrics)
        for key, value in metrics.items():
            if not _metric(value):
                return _wrong(f"per_tensor.{name}.{key}", _metric, value)
    return None


def _wrong(field: str, kind: Kind, value: Any) -> str:
    return f"{field}: expected {kind.expected}, got {_show(value)}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
