import itertools
import math

import pytest
import torch

from bench.metrics import METRIC_NAMES, constraint_metrics, per_tensor_metrics


def t(*values):
    return torch.tensor(values, dtype=torch.float64)


def test_hand_computed_feasible_point():
    # lambda = 2 -> r = 0.5; x on the boundary in coordinate 0 only.
    m = constraint_metrics([t(0.5, -0.2, 0.1)], [t(-1.0, 0.0, 2.0)], weight_decay=2.0)
    assert list(m) == list(METRIC_NAMES)
    assert m["linf_ratio"] == pytest.approx(1.0)
    assert m["violation"] == 0.0
    # <g, x> = -0.5 + 0.2 = -0.3; r ||g||_1 = 1.5
    assert m["fw_gap"] == pytest.approx(1.2)
    assert m["fw_gap_rel"] == pytest.approx(0.8)
    assert m["boundary_frac"] == pytest.approx(1 / 3)
    # g + 2x = (0, -0.4, 2.2): norm sqrt(5); ||g|| = sqrt(5); ||x|| = sqrt(0.3)
    assert m["l2_stationarity"] == pytest.approx(math.sqrt(5) / (math.sqrt(5) + 2 * math.sqrt(0.3)))
    assert m["grad_l1_l2"] == pytest.approx(3 / math.sqrt(5))


def test_infeasible_point_has_negative_fw_gap():
    m = constraint_metrics([t(-2.0)], [t(1.0)], weight_decay=2.0)
    assert m["linf_ratio"] == pytest.approx(4.0)
    assert m["violation"] == pytest.approx(3.0)
    assert m["fw_gap"] == pytest.approx(-1.5)  # -2 + 0.5
    assert m["fw_gap_rel"] == pytest.approx(-3.0)
    assert m["boundary_frac"] == 1.0


def test_kkt_point_has_zero_fw_gap():
    # Upper bound with g <= 0, lower bound with g >= 0, interior with g = 0.
    m = constraint_metrics([t(0.5, -0.5, 0.1)], [t(-1.0, 3.0, 0.0)], weight_decay=2.0)
    assert m["fw_gap"] == 0.0
    assert m["fw_gap_rel"] == 0.0
    assert m["boundary_frac"] == pytest.approx(2 / 3)
    # Flip one sign: no longer KKT, and the gap says so.
    m = constraint_metrics([t(0.5, -0.5, 0.1)], [t(1.0, 3.0, 0.0)], weight_decay=2.0)
    assert m["fw_gap"] == pytest.approx(1.0)


def test_fw_gap_is_the_linear_maximum_over_the_box():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(6, generator=gen, dtype=torch.float64)
    g = torch.randn(6, generator=gen, dtype=torch.float64)
    r = 0.7
    brute = max(float(g @ (x - r * torch.tensor(v, dtype=torch.float64)))
                for v in itertools.product((-1.0, 1.0), repeat=6))
    m = constraint_metrics([x], [g], weight_decay=1.0, radius=r)
    assert m["fw_gap"] == pytest.approx(brute)
    assert m["linf_ratio"] == pytest.approx(float(x.abs().max()) / r)


def test_additive_over_tensors_and_per_tensor_agreement():
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(3, 4, generator=gen), torch.randn(5, generator=gen)
    ga, gb = torch.randn(3, 4, generator=gen), torch.randn(5, generator=gen)
    lam = 1.5
    whole = constraint_metrics([torch.cat([a.flatten(), b])], [torch.cat([ga.flatten(), gb])],
                               lam)
    split = constraint_metrics([a, b], [ga, gb], lam)
    for name in METRIC_NAMES:
        assert split[name] == pytest.approx(whole[name], rel=1e-12)
    per = per_tensor_metrics({"a": a, "b": b}, {"a": ga, "b": gb}, lam)
    assert per["a"]["fw_gap"] + per["b"]["fw_gap"] == pytest.approx(split["fw_gap"], rel=1e-12)
    assert max(per["a"]["linf_ratio"], per["b"]["linf_ratio"]) == pytest.approx(
        split["linf_ratio"])
    assert per["a"] == pytest.approx(constraint_metrics([a], [ga], lam))
    assert per["b"] == pytest.approx(constraint_metrics([b], [gb], lam))


def test_no_box_without_weight_decay():
    m = constraint_metrics([t(0.3, -4.0)], [t(1.0, 2.0)], weight_decay=0.0)
    for name in ("linf_ratio", "violation", "fw_gap", "fw_gap_rel", "boundary_frac"):
        assert math.isnan(m[name])
    assert m["l2_stationarity"] == pytest.approx(1.0)  # ||g|| / ||g||
    assert m["grad_l1_l2"] == pytest.approx(3 / math.sqrt(5))
    # An explicit radius defines the box even without decay.
    m = constraint_metrics([t(0.3, -4.0)], [t(1.0, 2.0)], weight_decay=0.0, radius=4.0)
    assert m["linf_ratio"] == pytest.approx(1.0)


def test_zero_and_missing_gradients():
    m = constraint_metrics([t(0.25, -0.1)], [None], weight_decay=2.0)
    assert m["fw_gap"] == 0.0 and m["fw_gap_rel"] == 0.0
    assert math.isnan(m["grad_l1_l2"])
    assert m["l2_stationarity"] == pytest.approx(1.0)  # g = 0 but lambda x != 0
    m = constraint_metrics([t(0.0, 0.0)], [t(0.0, 0.0)], weight_decay=2.0)
    assert m["l2_stationarity"] == 0.0
    per = per_tensor_metrics({"w": t(0.5)}, {}, weight_decay=2.0)
    assert per["w"]["fw_gap"] == 0.0 and per["w"]["boundary_frac"] == 1.0


def test_l2_stationary_point_and_explicit_radius():
    x = t(0.4, -1.0)
    g = -3.0 * x  # stationary for L + (3/2)||x||^2
    m = constraint_metrics([x.float()], [g.float()], weight_decay=3.0, radius=2.0)
    assert m["l2_stationarity"] == pytest.approx(0.0, abs=1e-7)
    assert m["linf_ratio"] == pytest.approx(0.5)
    assert m["boundary_frac"] == 0.0


def test_bad_input():
    with pytest.raises(ValueError, match="weight_decay"):
        constraint_metrics([t(1.0)], [t(1.0)], weight_decay=-1.0)
    with pytest.raises(ValueError, match="gradients"):
        constraint_metrics([t(1.0)], [], weight_decay=1.0)
    assert constraint_metrics([], [], weight_decay=1.0)["fw_gap"] == 0.0
