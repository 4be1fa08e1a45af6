"""Per-tensor ‖g‖/‖x‖ and cos(g, x) (bench/measures/grad_ratio.py): the numbers, the tensors
left out, a layer followed by BatchNorm read as scale-invariant, and both in every curve point
of a lone run (the stacked path: tests/bench/engine/stacked/test_loop.py compares them)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from bench.claims.layers import SCALE_INVARIANT_COS
from bench.engine.runner import run_trial
from bench.measures import grad_ratio
from bench.trial.config import Trial


def test_ratio_and_cosine_are_exact_and_undefined_tensors_are_left_out():
    x = {"a": torch.tensor([3.0, 4.0]), "zero": torch.zeros(2), "lone": torch.ones(2),
         "flat": torch.ones(2)}
    g = {"a": torch.tensor([0.0, 10.0]), "zero": torch.ones(2), "flat": torch.zeros(2)}
    out = grad_ratio.point(x, g)["grad_weight"]
    assert out["ratio"]["a"] == pytest.approx(2.0) and out["cosine"]["a"] == pytest.approx(0.8)
    assert "zero" not in out["ratio"] and "zero" not in out["cosine"]  # ‖x‖ = 0
    assert "lone" not in out["ratio"]  # no gradient
    assert out["ratio"]["flat"] == 0.0 and "flat" not in out["cosine"]  # ‖g‖ = 0


def test_a_layer_followed_by_batchnorm_has_a_gradient_orthogonal_to_it():
    torch.manual_seed(0)
    conv, head = nn.Conv2d(3, 4, 3, bias=False), nn.Linear(4, 2)
    net = nn.Sequential(conv, nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), head)
    loss = nn.functional.cross_entropy(net(torch.randn(8, 3, 6, 6)), torch.arange(8) % 2)
    loss.backward()
    params = {"conv": conv.weight, "head": head.weight}
    cosine = grad_ratio.point(params, {n: p.grad for n, p in params.items()})[
        "grad_weight"]["cosine"]
    assert abs(cosine["conv"]) < SCALE_INVARIANT_COS < abs(cosine["head"])


def test_every_curve_point_of_a_run_carries_them(tmp_path):
    trial = Trial("quadratic", "adamw", lr=0.05, weight_decay=2.0, budget="smoke", steps=20,
                  eval_every=10, schedule="inverse_sqrt")
    record = run_trial(trial, tmp_path, show_progress=False)
    assert record["status"] == "done"
    for point in record["curve"]:
        ratio, cosine = point["grad_weight"]["ratio"]["x"], point["grad_weight"]["cosine"]["x"]
        assert math.isfinite(ratio) and ratio > 0 and -1 <= cosine <= 1
    assert record["final"]["grad_weight"] == record["curve"][-1]["grad_weight"]
