"""`wdbench check-optimizer`: measured decay semantics and the conformance checks."""

import json

import pytest

from bench.cli import main
from bench.conformance.checks import resolve, run_checks
from bench.errors import UsageError
from optimizers.builtins import GRID

DEFECTS = "tests.bench.defective_optimizers"
IMPORTS = "tests.bench.defective_imports"


@pytest.mark.parametrize("name,declared", [(row.name, row.decay) for row in GRID],
                         ids=[row.name for row in GRID])
def test_every_builtin_measures_its_declared_style_and_passes(name, declared):
    report = run_checks(resolve(name, {}))
    assert report.decay_semantics == declared
    assert report.passed, report.checks


@pytest.mark.parametrize("spec,settings,expected", [
    ("torch.optim:AdamW", {}, "decoupled"),
    ("torch.optim:Adam", {}, "coupled"),
    ("torch.optim:SGD", {"momentum": 0.9}, "coupled"),
    ("adamw", {"decay": "independent"}, "independent"),
    ("lion", {"decay": "coupled"}, "coupled"),
    ("adamw", {"decay": "none"}, "none"),  # declared no-decay baseline: honest, so it passes
])
def test_reference_optimizers_are_classified(spec, settings, expected):
    report = run_checks(resolve(spec, settings))
    assert report.decay_semantics == expected
    assert report.passed, report.checks


def test_sgd_without_momentum_is_reported_as_both_styles():
    report = run_checks(resolve("torch.optim:SGD", {}))
    assert report.decay_semantics == "coupled=decoupled"
    assert set(report.consistent_with) == {"coupled", "decoupled"}
    assert "same algorithm" in report.explanation
    assert report.passed


def test_adam_l2_moves_sign_like_under_zero_gradient_not_by_lr_times_wd():
    zero = run_checks(resolve("torch.optim:Adam", {})).probes["zero_gradient"]
    assert zero["step_over_lr"][0] == pytest.approx(1.0, rel=1e-3)  # ~η per step: sign-like
    assert zero["shrink_spread"][0] > 1e-4  # not a multiplicative shrink
    decoupled = run_checks(resolve("torch.optim:AdamW", {})).probes["zero_gradient"]
    assert decoupled["shrink_per_step"] == pytest.approx(decoupled["expected_decoupled"],
                                                         rel=1e-3)


def test_optimizer_that_ignores_weight_decay_is_none_and_fails(capsys):
    assert main(["check-optimizer", f"{DEFECTS}:IgnoresWeightDecay"]) == 1
    out = capsys.readouterr().out
    assert "decay_semantics: none" in out
    assert "verdict: FAIL" in out


@pytest.mark.parametrize("cls,failing", [
    ("Conforming", set()),
    ("ReadsDefaultWeightDecay", {"per_group_weight_decay"}),
    ("ForgetsState", {"state_dict"}),
    ("MislabelledCoupled", {"declared_style"}),
    ("OffScaleShrink", {"decay_semantics"}),
    ("ConstantShrink", set()),  # undeclared, and measured as the fixed style
])
def test_each_defect_fails_its_own_check(cls, failing):
    report = run_checks(resolve(f"{DEFECTS}:{cls}", {}))
    assert {c.name for c in report.checks if c.passed is False} == failing


def test_constant_shrink_by_lambda_is_fixed_and_by_another_factor_unknown():
    assert run_checks(resolve(f"{DEFECTS}:ConstantShrink", {})).decay_semantics == "fixed"
    assert run_checks(resolve(f"{DEFECTS}:OffScaleShrink", {})).decay_semantics == "unknown"


@pytest.mark.parametrize("style", ["fixed", "corrected", "cautious", "independent"])
@pytest.mark.parametrize("name", ["adamw", "signgd_wd", "lion", "sgdw"])
def test_every_direction_is_measured_as_the_style_it_is_given(name, style):
    report = run_checks(resolve(name, {"decay": style}))
    assert report.decay_semantics == style, report.explanation
    assert report.consistent_with == (style,)
    assert report.passed, report.checks


def test_library_fixed_decay_is_measured_as_fixed():
    pytest.importorskip("pytorch_optimizer")
    report = run_checks(resolve("pytorch_optimizer:Lion", {"fixed_decay": True}))
    assert report.decay_semantics == "fixed"
    plain = run_checks(resolve("pytorch_optimizer:Lion", {}))
    assert plain.decay_semantics == "decoupled"


def test_undeclared_style_is_not_a_failure():
    report = run_checks(resolve("torch.optim:AdamW", {}))
    declared = next(c for c in report.checks if c.name == "declared_style")
    assert report.declared_decay_style == "undeclared"
    assert declared.passed is None


@pytest.mark.parametrize("spec", ["no_such_optimizer", "no_such_module_xyz:Opt",
                                  "torch.optim:NoSuchOptimizer", "torch.optim:LBFGS",
                                  "torch:__version__", ":Adam"])
def test_unusable_spec_exits_2_with_one_line(spec, capsys):
    assert main(["check-optimizer", spec]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert captured.err.startswith("wdbench: error:")


# An optimizer whose import or constructor hangs, ends its process or raises SystemExit: a
# verdict (the `construction` check fails; nothing else can be probed), never a hang and never
# the end of wdbench. (optimizer, --probe-timeout-s, what the check says happened)
UNCONSTRUCTIBLE = [
    (f"{DEFECTS}:HangsOnConstruction", "3", "did not return within 3 s (hangs? raise "
                                            "--probe-timeout-s if it is only slow)"),
    (f"{DEFECTS}:ExitsOnConstruction", "60", "raised SystemExit: 0"),
    (f"{DEFECTS}:KillsOnConstruction", "60", "its process died (exit code 3)"),
    (f"{IMPORTS}.hangs:Conforming", "3", "did not return within 3 s"),
    (f"{IMPORTS}.exits:Conforming", "60", "raised SystemExit: 0"),
    (f"{IMPORTS}.kills:Conforming", "60", "its process died (exit code 3)"),
]


@pytest.mark.parametrize("spec,timeout,detail", UNCONSTRUCTIBLE,
                         ids=[row[0].rpartition(".")[2] for row in UNCONSTRUCTIBLE])
@pytest.mark.e2e
def test_an_import_or_constructor_that_hangs_or_ends_its_process_fails_a_check(
        spec, timeout, detail, capsys):
    assert main(["check-optimizer", spec, "--probe-timeout-s", timeout]) == 1
    out = capsys.readouterr().out
    assert f"FAIL  construction             importing and constructing it failed: {detail}" in out
    assert out.endswith("verdict: FAIL (construction)\n")
    assert main(["check-optimizer", spec, "--probe-timeout-s", timeout, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is False and list(report["checks"]) == ["construction"]


def test_probe_controlled_settings_are_refused():
    with pytest.raises(UsageError, match="lr"):
        resolve("adamw", {"lr": 1e-3})


def test_json_output_parses_and_carries_the_measurements(capsys):
    assert main(["check-optimizer", "signgd_wd", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["decay_semantics"] == "decoupled"
    assert report["declared_decay_style"] == "decoupled"
    assert report["passed"] is True
    assert set(report["checks"]) == {"decay_semantics", "declared_style", "state_dict",
                                     "per_group_weight_decay", "deterministic", "finite",
                                     "closure"}
    zero = report["probes"]["zero_gradient"]
    assert zero["deviation"]["decoupled"] <= zero["tolerance"]
    assert zero["deviation"]["coupled"] > zero["tolerance"]
    assert report["probes"]["mixed_gradient"]["effect"] > 0
