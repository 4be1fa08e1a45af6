"""Rotational equilibrium's measurements (bench/measures/rotation.py) on hand-made examples: the
angle
of one step, the spread over tensors, and the copy of W_{t-1} kept only before steps that
are evaluation points."""

from __future__ import annotations

import math

import pytest
import torch

from bench.measures import rotation


def test_angle_by_hand():
    a = torch.tensor([1.0, 0.0])
    assert rotation.angle(a, torch.tensor([1.0, 1.0])) == pytest.approx(math.pi / 4)
    assert rotation.angle(a, torch.tensor([0.0, 3.0])) == pytest.approx(math.pi / 2)
    assert rotation.angle(a, -a) == pytest.approx(math.pi)
    assert rotation.angle(a, torch.zeros(2)) == 0.0
    # One step's tiny rotation: exact where arccos of the cosine would round to 0.
    assert rotation.angle(a, torch.tensor([1.0, 1e-9])) == pytest.approx(1e-9, rel=1e-6)
    # Scale does not rotate.
    assert rotation.angle(torch.eye(2), 5 * torch.eye(2)) == pytest.approx(0.0, abs=1e-12)


def test_spread_is_std_over_mean():
    assert rotation.cv([1.0, 3.0]) == pytest.approx(0.5)  # std 1, mean 2
    assert rotation.cv([2.0, 2.0, 2.0]) == 0.0
    assert rotation.cv([1.0]) is None


def _two_step_example():
    """SGD at lr 1 on two tensors with chosen gradients: W_{t+1} = W_t - g_t."""
    a = torch.nn.Parameter(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    b = torch.nn.Parameter(torch.tensor([2.0, 0.0]))
    opt = torch.optim.SGD([a, b], lr=1.0)
    steps = {"done": 0}
    watch = rotation.RotationWatch(opt, {"a": a, "b": b}, due=lambda t: t == 2,
                                   done_steps=lambda: steps["done"])
    grads = [({"a": [[0.0, -1.0], [0.0, 0.0]], "b": [0.0, 0.0]}),    # step 1
             ({"a": [[1.0, 0.0], [0.0, 0.0]], "b": [0.0, -2.0]})]    # step 2
    return a, b, opt, steps, watch, grads


def test_two_steps_by_hand():
    a, b, opt, steps, watch, grads = _two_step_example()
    # Step 1 is no evaluation point: no copy is made before it.
    a.grad, b.grad = (torch.tensor(grads[0][k]) for k in ("a", "b"))
    opt.step()
    steps["done"] += 1
    assert watch.previous is None
    # Step 2 is one: W_1 is copied just before it.
    a.grad, b.grad = (torch.tensor(grads[1][k]) for k in ("a", "b"))
    opt.step()
    steps["done"] += 1
    assert torch.equal(watch.previous["a"], torch.tensor([[1.0, 1.0], [0.0, 0.0]]))
    out = watch.measure(2)
    # W_1: a = [[1, 1], [0, 0]], b = [2, 0];  W_2: a = [[0, 1], [0, 0]], b = [2, 2].
    assert out["rotation"]["weight_norm"] == {"a": pytest.approx(1.0),
                                              "b": pytest.approx(math.sqrt(8))}
    angles = out["rotation"]["angular_update"]
    assert angles == {"a": pytest.approx(math.pi / 4), "b": pytest.approx(math.pi / 4)}
    assert out["angular_update_mean"] == pytest.approx(math.pi / 4)
    assert out["angular_update_cv"] == pytest.approx(0.0, abs=1e-12)
    mean_norm = (1 + math.sqrt(8)) / 2
    assert out["weight_norm_cv"] == pytest.approx((math.sqrt(8) - 1) / 2 / mean_norm)
    assert watch.previous is None  # freed once measured
    # Measured again without a fresh copy: norms only, no angle.
    assert "angular_update" not in watch.measure(2)["rotation"]
    watch.close()
