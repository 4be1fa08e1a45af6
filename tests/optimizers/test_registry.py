"""`optimizers.spec('module:attr')`: an unregistered Optimizer class or factory is imported and
registered on first use, with the grids and decay style it declares as attributes."""

import subprocess
import sys

import pytest
import torch

from optimizers.registry import OptimizerSpec, Registry
from tests.bench.helpers import REPO

SUBMISSION = "tests.bench.submitted_optimizer:SignDescentW"


def test_module_attr_is_registered_with_its_declared_grid_and_style():
    registry = Registry()
    spec = registry.spec(SUBMISSION)
    assert spec.lr_grid == (0.05,) and spec.weight_decay_grid == (2.0,)
    assert spec.decay_style.value == "decoupled" and spec.source == f"import {SUBMISSION}"
    assert SUBMISSION in registry.available()
    opt = registry.create(SUBMISSION, [torch.nn.Parameter(torch.ones(3))], lr=0.1)
    assert opt.defaults == {"lr": 0.1, "weight_decay": 0.0}


def test_without_attributes_the_registry_defaults_apply():
    spec = Registry().spec("tests.bench.submitted_optimizer:make_adam_l2")
    default = OptimizerSpec("x", torch.optim.Adam, spec.decay_style, "custom")
    assert spec.search_space() == default.search_space()
    assert spec.decay_style.value == "coupled"  # its `decay_style` attribute
    assert Registry().spec("torch.optim:AdamW").decay_style.value == "decoupled"


@pytest.mark.parametrize("target,message", [
    ("tests.bench.nope:Opt", "cannot import optimizer 'tests.bench.nope:Opt'"),
    ("tests.bench.submitted_optimizer:Nope", "has no attribute 'Nope'"),
    ("tests.bench.helpers:TOY", "is a str, not an Optimizer class or factory"),
])
def test_bad_targets_raise_key_error_naming_them(target, message):
    with pytest.raises(KeyError, match=message):
        Registry().spec(target)


@pytest.mark.e2e
def test_a_fresh_process_resolves_the_name_itself():
    code = (f"import optimizers; print(optimizers.spec({SUBMISSION!r}).lr_grid)")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert res.stdout.strip() == "(0.05,)", res.stderr
