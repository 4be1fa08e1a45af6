import itertools
import math

import pytest
import torch

from bench.measures.metrics import METRIC_NAMES, constraint_metrics, per_tensor_metrics


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


# --- per-norm geometry ----------------------------------------------------------------------

from bench.measures.metrics import (  # noqa: E402
    BALL_METRIC_NAMES,
    ball_ratio,
    geometry_metrics,
    geometry_ratios,
    spectral_ratio,
)


def m(*rows):
    return torch.tensor(rows, dtype=torch.float64)


def _rotation(seed, n):
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=torch.Generator().manual_seed(seed),
                                       dtype=torch.float64))
    return q


def test_spectral_ball_hand_computed_infeasible_point():
    # sigma(W) = (3, 1), r = 2: outside the ball. <G, W> = -3 + 2 = -1; ||G||_* = 3.
    overall, per = geometry_metrics({"w": m([3.0, 0.0], [0.0, 1.0])},
                                    {"w": m([-1.0, 0.0], [0.0, 2.0])}, {"w": "spectral"}, 2.0)
    assert list(overall) == list(BALL_METRIC_NAMES)
    assert overall["ball_ratio"] == pytest.approx(1.5)
    assert overall["ball_violation"] == pytest.approx(0.5)
    assert overall["ball_fw_gap"] == pytest.approx(5.0)  # -1 + 2 * 3
    assert overall["ball_fw_gap_rel"] == pytest.approx(5 / 6)
    assert overall["ball_boundary_frac"] == pytest.approx(0.5)  # sigma 3 >= 1.98, sigma 1 not
    assert per["w"] == overall


def test_spectral_kkt_point_has_zero_gap_in_any_basis():
    # W = U diag(2, 0.5) V^T on the sphere sigma_max = r = 2, G = -U diag(1, 0) V^T: the
    # gradient pushes only the saturated direction outwards, so W is a KKT point of the ball.
    u, v = _rotation(1, 2), _rotation(2, 2)
    w = u @ torch.diag(t(2.0, 0.5)) @ v.T
    g = -u @ torch.diag(t(1.0, 0.0)) @ v.T
    overall, _ = geometry_metrics({"w": w}, {"w": g}, {"w": "spectral"}, 2.0)
    assert overall["ball_ratio"] == pytest.approx(1.0)
    assert overall["ball_fw_gap"] == pytest.approx(0.0, abs=1e-12)
    # The same point is no KKT point of the box: its l_inf geometry reports a positive gap.
    box, _ = geometry_metrics({"w": w}, {"w": g}, {"w": "linf"}, float(w.abs().max()))
    assert box["ball_fw_gap"] > 1e-3


def test_spectral_fw_gap_is_the_linear_maximum_over_the_ball():
    gen = torch.Generator().manual_seed(3)
    w = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    g = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    r = 0.8
    overall, _ = geometry_metrics({"w": w}, {"w": g}, {"w": "spectral"}, r)
    u, _, vh = torch.linalg.svd(g, full_matrices=False)
    best = float((g * (w + r * u @ vh)).sum())  # v = -r U V^T attains the maximum
    assert overall["ball_fw_gap"] == pytest.approx(best)
    for seed in range(20):  # and no other point of the ball does better
        z = torch.randn(4, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        v = r * z / torch.linalg.matrix_norm(z, ord=2)
        assert float((g * (w - v)).sum()) <= best + 1e-12


def test_l2_ball_hand_computed():
    overall, _ = geometry_metrics({"x": t(3.0, 4.0)}, {"x": t(1.0, 0.0)}, {"x": "l2"}, 10.0)
    assert overall["ball_ratio"] == pytest.approx(0.5)
    assert overall["ball_fw_gap"] == pytest.approx(13.0)  # 3 + 10 * 1
    assert overall["ball_fw_gap_rel"] == pytest.approx(1.3)
    assert overall["ball_boundary_frac"] == 0.0


def test_linf_ball_agrees_with_the_box_metrics():
    x, g = t(0.5, -0.2, 0.1), t(-1.0, 0.0, 2.0)
    overall, _ = geometry_metrics({"x": x}, {"x": g}, {"x": "linf"}, 0.5)
    box = constraint_metrics([x], [g], weight_decay=2.0)
    for name in ("ratio", "violation", "fw_gap", "fw_gap_rel", "boundary_frac"):
        key = "linf_ratio" if name == "ratio" else name
        assert overall[f"ball_{name}"] == pytest.approx(box[key])


def test_product_of_balls_sums_gaps_and_takes_the_largest_ratio():
    params = {"w": m([3.0, 0.0], [0.0, 1.0]), "b": t(0.5, -0.2, 0.1)}
    grads = {"w": m([-1.0, 0.0], [0.0, 2.0]), "b": t(-1.0, 0.0, 2.0)}
    norms = {"w": "spectral", "b": "linf"}
    overall, per = geometry_metrics(params, grads, norms, {"w": 2.0, "b": 0.5})
    assert per["w"]["ball_fw_gap"] == pytest.approx(5.0)
    assert per["b"]["ball_fw_gap"] == pytest.approx(1.2)
    assert overall["ball_fw_gap"] == pytest.approx(6.2)
    assert overall["ball_ratio"] == pytest.approx(1.5)  # max(1.5, 1.0)
    assert overall["ball_fw_gap_rel"] == pytest.approx(6.2 / (6.0 + 1.5))
    assert overall["ball_boundary_frac"] == pytest.approx((1 + 1) / (2 + 3))
    assert ball_ratio(params, norms, {"w": 2.0, "b": 0.5}) == pytest.approx(1.5)


def test_same_shape_tensors_are_batched_without_mixing_them_up():
    gen = torch.Generator().manual_seed(4)
    params = {f"w{i}": torch.randn(5, 3, generator=gen, dtype=torch.float64) for i in range(3)}
    grads = {n: torch.randn(5, 3, generator=gen, dtype=torch.float64) for n in params}
    _, per = geometry_metrics(params, grads, dict.fromkeys(params, "spectral"), 1.0)
    for n in params:
        alone, _ = geometry_metrics({n: params[n]}, {n: grads[n]}, {n: "spectral"}, 1.0)
        assert per[n] == pytest.approx(alone)
        assert per[n]["ball_ratio"] == pytest.approx(
            float(torch.linalg.matrix_norm(params[n], ord=2)))


def test_geometry_ratios_measure_each_norm_with_its_own_radius():
    params = {"w": m([3.0, 0.0], [0.0, 1.0]), "b": t(-2.0)}
    ratios = geometry_ratios(params, {"linf": 1.0, "spectral": {"w": 6.0}, "l2": 4.0})
    assert ratios["linf_ratio"] == pytest.approx(3.0)
    assert ratios["spectral_ratio"] == pytest.approx(0.5)  # the vector b has no spectral norm
    assert ratios["l2_ratio"] == pytest.approx(math.sqrt(10) / 4)
    assert spectral_ratio({"b": t(1.0)}, 1.0) != spectral_ratio({"b": t(1.0)}, 1.0)  # NaN


def test_geometry_metrics_reject_bad_input():
    with pytest.raises(ValueError, match="unknown norm"):
        geometry_metrics({"x": t(1.0)}, {}, {"x": "l1"}, 1.0)
    with pytest.raises(ValueError, match="radii must be > 0"):
        geometry_metrics({"x": t(1.0)}, {}, {"x": "linf"}, 0.0)
    with pytest.raises(ValueError, match=">= 2 dims"):
        geometry_metrics({"x": t(1.0)}, {}, {"x": "spectral"}, 1.0)
