"""Task options declared once: coercion, checks and the one-line errors they give."""

import pytest

import tasks
from tasks.options import OneOf, Range, TaskOption, at_least, parse_options, positive

DECLARED = (
    TaskOption("dim", 20, int, "dimension", at_least(1)),
    TaskOption("rate", 0.5, float, "a probability", Range(0, 1, high_open=True)),
    TaskOption("kind", "dense", str, "kind", OneOf(("dense", "diagonal"))),
    TaskOption("flag", True, bool, "a switch"),
    TaskOption("cap", None, int, "limit (null: none)", positive(), nullable=True),
)


def test_defaults_then_given_values_coerced_from_cli_spellings():
    out = parse_options("t", DECLARED, {"dim": "1e2", "rate": "0.25", "flag": "false",
                                        "cap": 7})
    assert out == {"dim": 100, "rate": 0.25, "kind": "dense", "flag": False, "cap": 7}
    assert parse_options("t", DECLARED, {"cap": None})["cap"] is None


def test_unknown_option_names_the_task_and_the_valid_names():
    with pytest.raises(ValueError, match=r"unknown t option\(s\) dims; use task.NAME with NAME "
                                         r"in: dim, rate, kind, flag, cap"):
        parse_options("t", DECLARED, {"dims": 3})


@pytest.mark.parametrize("name,value,message", [
    ("dim", 2.5, "task.dim=2.5 is not allowed; use an int >= 1"),
    ("dim", 0, "task.dim=0 is not allowed; use an int >= 1"),
    ("dim", True, "task.dim=True is not allowed; use an int >= 1"),
    ("dim", None, "task.dim=None is not allowed; use an int >= 1"),
    ("rate", 1.0, "task.rate=1.0 is not allowed; use a float in [0, 1)"),
    ("rate", "abc", "task.rate='abc' is not allowed; use a float in [0, 1)"),
    ("kind", "sparse", "task.kind='sparse' is not allowed; use one of dense, diagonal"),
    ("flag", "maybe", "task.flag='maybe' is not allowed; use a bool"),
    ("cap", 0, "task.cap=0 is not allowed; use an int > 0 or null"),
])
def test_bad_values_are_one_line_with_option_value_and_range(name, value, message):
    with pytest.raises(ValueError) as err:
        parse_options("t", DECLARED, {name: value})
    assert str(err.value) == message


@pytest.mark.parametrize("name", tasks.available())
def test_every_task_declares_valid_defaults_and_budget_options(name):
    cls = tasks.get(name)
    assert cls.declared_options, f"{name} declares no options"
    for option in cls.declared_options:
        assert option.help
        assert option.parse(option.default) == option.default
    for budget in cls.budgets.values():  # budgets override options: they must be valid too
        parse_options(name, cls.declared_options, budget.options)
