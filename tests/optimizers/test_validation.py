"""The shared range checks, and every optimizer using them."""

import pytest
import torch

import optimizers
from optimizers import validation


def test_checks_accept_their_range_and_return_floats():
    assert validation.positive("lr", 1) == 1.0
    assert validation.non_negative("weight_decay", 0) == 0.0
    assert validation.unit_interval("momentum", 0.0) == 0.0
    assert validation.betas([0.9, 0.99]) == (0.9, 0.99)


@pytest.mark.parametrize("check,args,message", [
    (validation.positive, ("lr", 0.0), "lr must be > 0, got 0.0"),
    (validation.non_negative, ("weight_decay", -1e-3), "weight_decay must be >= 0"),
    (validation.unit_interval, ("momentum", 1.0), r"momentum must be in \[0, 1\), got 1.0"),
    (validation.unit_interval, ("momentum", float("nan")), "momentum must be in"),
    (validation.betas, ((0.9, 1.0),), r"betas must be 2 numbers in \[0, 1\)"),
    (validation.betas, ((0.9,),), "betas must be 2 numbers"),
])
def test_checks_name_the_parameter_and_the_range(check, args, message):
    with pytest.raises(ValueError, match=message):
        check(*args)


@pytest.mark.parametrize("name,bad,message", [
    ("adamw", {"betas": (0.9, 1.5)}, "betas must be"),
    ("adamw", {"eps": -1.0}, "eps must be >= 0"),
    ("lion", {"betas": (-0.1, 0.99)}, "betas must be"),
    ("signgd_wd", {"momentum": 1.0}, "momentum must be in"),
    ("sgdw", {"momentum": -0.5}, "momentum must be in"),
    ("sgdw", {"lr": 0.0}, "lr must be > 0"),
    ("adamc", {"weight_decay": -0.1}, "weight_decay must be >= 0"),
])
def test_every_optimizer_uses_the_shared_checks(name, bad, message):
    with pytest.raises(ValueError, match=message):
        optimizers.create(name, [torch.nn.Parameter(torch.zeros(2))], **bad)
