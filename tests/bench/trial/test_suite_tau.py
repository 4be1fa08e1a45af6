"""Suites and `--set` may give the EMA timescale `tau` instead of weight_decay: λ is derived
per lr in the optimizer's decay style, the trial keeps the τ asked for, and giving both, a
bad τ, or τ for a style without a timescale is one line naming the fix (exit 2 in the CLI)."""

from __future__ import annotations

import hashlib
import json

import pytest

from bench.cli import main
from bench.errors import UsageError
from bench.trial import suite, validation
from bench.trial.config import ID_SALT
from tests.bench.helpers import TOY


def _suite(tmp_path, body: str) -> suite.Suite:
    path = tmp_path / "s.yaml"
    path.write_text(f"task: {TOY}\nbudget: smoke\n{body}")
    return suite.load(path)


def test_a_tau_grid_expands_to_lambda_per_lr(tmp_path):
    s = _suite(tmp_path, "optimizers:\n  adamw: {lr: [0.01, 0.1], tau: [100, 1000]}\n"
                         "  lion: {lr: [0.001], tau: [50], decay: fixed}\n"
                         "  adam_l2: {lr: [0.01], weight_decay: [0.001]}\n")
    trials = s.trials("smoke")
    got = {(t.optimizer, t.lr, t.tau): t.weight_decay for t in trials}
    assert got[("adamw", 0.01, 100.0)] == pytest.approx(1.0)    # 1/(0.01·100)
    assert got[("adamw", 0.01, 1000.0)] == pytest.approx(0.1)
    assert got[("adamw", 0.1, 100.0)] == pytest.approx(0.1)
    assert got[("adamw", 0.1, 1000.0)] == pytest.approx(0.01)
    assert got[("lion", 0.001, 50.0)] == pytest.approx(0.02)    # fixed decay: λ = 1/τ
    assert got[("adam_l2", 0.01, None)] == 0.001
    # The τ asked for is in the config, so ids are stable: the same suite, the same ids.
    assert [t.id for t in trials] == [t.id for t in s.trials("smoke")]
    assert all(t.to_dict()["tau"] == t.tau for t in trials)


def test_a_tau_trial_and_a_weight_decay_trial_are_different_configs():
    by_tau = validation.build(TOY, "adamw", {"lr": 0.01, "tau": 100, "budget": "smoke"})
    by_wd = validation.build(TOY, "adamw", {"lr": 0.01, "weight_decay": 1.0,
                                            "budget": "smoke"})
    assert by_tau.weight_decay == pytest.approx(by_wd.weight_decay)
    assert by_tau.id != by_wd.id and by_wd.tau is None
    # Trials without tau keep the ids they had before the field existed.
    old = {k: v for k, v in by_wd.to_dict().items() if k not in ("tau", "compile")}
    blob = json.dumps({"trial": old, "version": ID_SALT}, sort_keys=True, default=str)
    assert by_wd.id == hashlib.sha256(blob.encode()).hexdigest()[:12]


@pytest.mark.parametrize("body, match", [
    ("  adamw: {lr: [0.01], weight_decay: [0.1], tau: [100]}\n", "not both"),
    ("  adamw: {lr: [0.01], tau: [0, 100]}\n", "must be > 0"),
    ("  adamw: {lr: [0.01], tau: [fast]}\n", "must be a number"),
])
def test_bad_tau_in_a_suite_names_the_line(tmp_path, body, match):
    with pytest.raises(UsageError, match=match) as err:
        _suite(tmp_path, "optimizers:\n" + body)
    assert "s.yaml:4" in str(err.value) and "\n" not in str(err.value)


def test_tau_for_a_style_without_a_timescale_asks_for_weight_decay(tmp_path):
    s = _suite(tmp_path, "optimizers:\n  adam_l2: {lr: [0.01], tau: [100]}\n")
    with pytest.raises(UsageError, match="weight_decay instead.*coupled") as err:
        s.trials("smoke")
    assert "s.yaml:4" in str(err.value)


def test_suite_weight_decay_and_grid_tau_conflict(tmp_path):
    s = _suite(tmp_path, "weight_decay: 0.1\noptimizers:\n  adamw: {lr: [0.01], tau: [100]}\n")
    with pytest.raises(UsageError, match="both given; give one"):
        s.trials("smoke")


def test_a_changed_lr_breaks_the_tau_pair():
    trial = validation.build(TOY, "adamw", {"lr": 0.01, "tau": 100, "budget": "smoke"})
    with pytest.raises(UsageError, match="the λ of tau=100"):
        validation.validate(trial.with_settings({"lr": 0.02}))


def test_cli_refuses_tau_with_weight_decay_with_exit_2(tmp_path, capsys):
    assert main(["run", "--task", TOY, "--optimizer", "adamw", "--budget", "smoke",
                 "--set", "tau=100", "--set", "weight_decay=0.1",
                 "--out", str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "give one" in lines[0], lines
    assert not (tmp_path / "out").exists()
