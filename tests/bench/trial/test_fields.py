"""Each Trial field is declared once (bench/trial/config.py, bench/trial/fields.py), and what
reads a field reads that declaration: checks, settings keys, grouping, columns, statistics."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from bench import schema
from bench.executors.plan import PER_MEMBER, group_key
from bench.ledger.store import flatten
from bench.trial import suite
from bench.trial.config import FIELDS, TRIAL_KEYS, Trial, config_key
from bench.trial.fields import AXIS, BOOKKEEPING, SEED, VARIANT, SettingError, declare, declared

BASE = Trial(task="quadratic", optimizer="adamw", lr=0.01, weight_decay=0.1)


def other_value(name: str) -> Any:
    """A valid value of the field other than BASE's, found from its declaration."""
    f = FIELDS[name]
    value = getattr(BASE, name)
    if f.choices is not None:
        return next(c for c in f.choices() if c != value)
    if f.kind is bool:
        return not value
    if f.kind in (int, float):
        start = value if value is not None else (f.low or 0)
        return f.kind(start + 2)
    if f.kind is tuple:
        return {"x": 1}  # options, as a record holds them
    return f"{value}_other"


def test_a_declaration_is_completed_from_the_annotation_and_default():
    @dataclass(frozen=True)
    class Toy:
        rate: float = declare("a rate", AXIS, low=0.0, strict=True)
        count: int | None = declare("a count", VARIANT, default=None, low=1,
                                    null="as many as needed")
        flag: bool = declare("a flag", BOOKKEEPING, default=False)

    rate, count, flag = declared(Toy)
    assert (rate.name, rate.kind, rate.required, rate.nullable) == ("rate", float, True, False)
    assert (count.kind, count.nullable, count.default) == (int, True, None)
    assert count.allowed() == "an integer >= 1, or null (as many as needed)"
    assert count.coerce(None) is None and count.coerce("3") == 3
    assert flag.coerce("yes") is True
    with pytest.raises(SettingError, match=r"^rate=0 is not allowed; use a finite number > 0$"):
        rate.coerce(0)
    with pytest.raises(SettingError, match="count=1.5 is not allowed"):
        count.coerce(1.5)


def test_an_undeclared_field_or_a_null_the_annotation_does_not_allow_is_refused():
    @dataclass(frozen=True)
    class Bare:
        rate: float = 1.0

    @dataclass(frozen=True)
    class Mismatch:
        steps: int = declare("steps", VARIANT, default=1, null="the budget's")

    with pytest.raises(TypeError, match="Bare.rate has no declaration"):
        declared(Bare)
    with pytest.raises(TypeError, match="Mismatch.steps: annotate `X | None`"):
        declared(Mismatch)
    with pytest.raises(ValueError, match="role 'config'"):
        declare("x", "config")


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_only_the_bookkeeping_fields_leave_the_configuration_and_seed_alone(name):
    changed = Trial.from_dict({**BASE.to_dict(), name: other_value(name)})
    assert changed.id != BASE.id
    same = changed.config_key == BASE.config_key
    assert same == (FIELDS[name].role == BOOKKEEPING), FIELDS[name].role
    # and a stacked group's members may differ exactly in the per-member fields
    assert (group_key(changed) == group_key(BASE)) == (name in PER_MEMBER)


def test_a_record_counts_as_its_configuration_whatever_its_age_or_number_types():
    config = BASE.to_dict()
    older = {k: v for k, v in config.items() if k not in ("tau", "compile")}  # before they were
    assert config_key(older) == config_key(config) == BASE.config_key
    assert config_key({**config, "lr": 1}) == config_key({**config, "lr": 1.0})
    assert config_key({**config, "seed": 1}) != config_key(config)
    assert config_key({**config, "later_field": 3}) != config_key(config)


def test_the_roles_are_the_ones_the_statistics_need():
    roles = {name: f.role for name, f in FIELDS.items()}
    assert [n for n, r in roles.items() if r == SEED] == ["seed"]
    assert {n for n, r in roles.items() if r == BOOKKEEPING} == {
        "eval_every", "checkpoint_every", "compile", "tau"}
    assert set(PER_MEMBER) == {"lr", "weight_decay", "tau", "seed"}


def test_every_reader_of_the_fields_follows_the_declaration():
    assert set(TRIAL_KEYS) == {n for n, f in FIELDS.items() if f.setting}
    assert set(TRIAL_KEYS) <= suite.TOP_KEYS
    row = flatten({"id": BASE.id, "status": "done", "config": BASE.to_dict()})
    for name, f in FIELDS.items():
        assert (name in row) == f.column == schema.has(name), name
        if f.column:
            assert schema.get(name).definition.lower().startswith(f.help.lower()), name
            assert schema.get(name).symbol == f.symbol
    assert row["config_key"] == BASE.config_key
    assert set(json.loads(row["config_extra"])) == {
        n for n, f in FIELDS.items() if f.role == VARIANT}


def test_a_bad_value_names_key_value_and_allowed_values():
    with pytest.raises(SettingError) as err:
        BASE.with_settings({"mask": "some"})
    assert str(err.value) == ("mask='some' is not allowed; use one of all, matrices, none, "
                              "matrices_no_embeddings, or null (the task's default)")
    with pytest.raises(SettingError, match="^grad_accum=0 is not allowed; use an integer >= 1$"):
        Trial(task="quadratic", optimizer="adamw", lr=0.01, weight_decay=0.1, grad_accum=0)
    with pytest.raises(SettingError, match="^task='' is not allowed; use a task name"):
        Trial(task="", optimizer="adamw", lr=0.01, weight_decay=0.1)
