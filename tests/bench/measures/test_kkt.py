"""kkt_residual (bench/measures/kkt.py) is 0 exactly at interior, boundary and mixed KKT points
of the ℓ∞ box and of the spectral ball, positive off them and growing with the distance, where
fw_gap_rel stays near 1 at an interior point; the initial gap follows a moving radius."""

import math

import pytest
import torch

from bench.measures import kkt
from bench.measures.metrics import constraint_metrics, geometry_metrics, per_tensor_metrics

R = 0.5  # the radius throughout (λ = 2)
PERTURBATIONS = (1e-4, 1e-3, 1e-2, 1e-1)


def t(*values):
    return torch.tensor(values, dtype=torch.float64)


def box_residual(x, g, start):
    """kkt_residual of one tensor in the box of radius R, through the metrics' own fw_gap."""
    gap = constraint_metrics([x], [g], weight_decay=1 / R)["fw_gap"]
    return kkt.residual(gap, start["box"], {"x": R})


def quadratic_start(c):
    """Start terms of L = ½‖x − c‖² at x_0 = 0 (gradient −c), as the runner keeps them."""
    x0 = torch.zeros_like(c)
    return kkt.start_terms({"x": x0}, {"x": x0 - c}, {"x": {"norm": "linf", "scale": 1.0}})


# Box optima of L = ½‖x − c‖²: x* = clip(c, −R, R), g* = x* − c. Dyadic values: every sum of
# the gap is exact in float64, so the residual at x* is 0.0 exactly.
BOX_CASES = {
    "interior": t(0.25, -0.125, 0.0625),  # every |c_i| < R: x* = c, g* = 0
    "boundary": t(0.75, -1.25, 2.0),      # every |c_i| > R: x* = ±R, g* of the sign that pins it
    "mixed": t(0.75, -0.125, -1.25, 0.0),
}


@pytest.mark.parametrize("case", BOX_CASES)
def test_box_residual_is_zero_at_kkt_points_and_grows_off_them(case):
    c = BOX_CASES[case]
    start = quadratic_start(c)
    x_star = c.clamp(-R, R)
    assert box_residual(x_star, x_star - c, start) == 0.0  # exact, not approximately
    # Perturbed: toward the box's centre (feasible throughout), the gradient following x.
    direction = -torch.sign(x_star) + (x_star == 0).to(x_star)
    residuals = []
    for eps in PERTURBATIONS:
        x = x_star + eps * direction
        assert x.abs().max() <= R
        residuals.append(box_residual(x, x - c, start))
    assert all(r > 0 for r in residuals)
    assert residuals == sorted(residuals) and residuals[-1] > 100 * residuals[0]


def test_at_an_interior_point_fw_gap_rel_stays_near_one_while_kkt_residual_falls():
    c = BOX_CASES["interior"]
    start = quadratic_start(c)
    rel, residuals = [], []
    for eps in PERTURBATIONS:
        x = c + eps * t(1.0, 1.0, 1.0)
        box = constraint_metrics([x], [x - c], weight_decay=1 / R)
        # 1 + <g, x>/(r‖g‖₁) ≥ 1 − ‖x‖∞/r, whatever the size of g
        assert box["fw_gap_rel"] >= 1 - box["linf_ratio"] >= 0.3
        rel.append(box["fw_gap_rel"])
        residuals.append(box_residual(x, x - c, start))
        assert residuals[-1] == pytest.approx(box["fw_gap"] / (R * float(c.abs().sum())))
    assert min(rel) > 1.0  # here 1.13 to 1.33: blind to a point 1000 times closer
    assert residuals == sorted(residuals) and residuals[0] < 1e-3 < 0.5 < residuals[-1]


def test_a_boundary_point_with_the_wrong_gradient_sign_is_not_kkt():
    c = BOX_CASES["boundary"]
    start = quadratic_start(c)
    x_star = c.clamp(-R, R)
    assert box_residual(x_star, 0.1 * (x_star - c), start) == 0.0  # g pushes outward: KKT
    # g_i > 0 at x_i = R: -g points back into the box, so x* would not be a minimizer.
    residuals = [box_residual(x_star, eps * torch.sign(x_star), start) for eps in PERTURBATIONS]
    assert all(r > 0 for r in residuals)
    assert residuals == sorted(residuals) and residuals[-1] > 100 * residuals[0]


def polar(seed, rows=4, cols=3):
    """Orthonormal U (rows x 3) and V (cols x 3) from a seeded QR."""
    gen = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(rows, 3, generator=gen, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(cols, 3, generator=gen, dtype=torch.float64))
    return u, v


SPECTRAL_CASES = {  # singular values of C; the spectral-ball optimum is U min(Σ, R) Vᵀ
    "interior": (0.4, 0.2, 0.1),
    "boundary": (2.0, 1.5, 0.9),
    "mixed": (2.0, 0.3, 0.1),
}


@pytest.mark.parametrize("case", SPECTRAL_CASES)
def test_spectral_ball_residual_is_zero_at_kkt_points_and_grows_off_them(case):
    u, v = polar(1)
    sigma = t(*SPECTRAL_CASES[case])
    c = u @ torch.diag(sigma) @ v.T
    geometry = {"w": {"norm": "spectral", "scale": 1.0}}
    w0 = torch.zeros_like(c)
    start = kkt.start_terms({"w": w0}, {"w": w0 - c}, geometry)

    def residual(w):
        overall, _ = geometry_metrics({"w": w}, {"w": w - c}, {"w": "spectral"}, R)
        return kkt.residual(overall["ball_fw_gap"], start["ball"], {"w": R})

    w_star = u @ torch.diag(sigma.clamp(max=R)) @ v.T
    assert abs(residual(w_star)) < 1e-12  # 0 up to the float64 singular values
    shrink = u @ torch.diag(torch.ones(3, dtype=torch.float64)) @ v.T  # all σ inward
    residuals = [residual(w_star - eps * shrink) for eps in PERTURBATIONS]
    assert all(r > 1e-10 for r in residuals)
    assert residuals == sorted(residuals) and residuals[-1] > 100 * residuals[0]


def test_the_initial_gap_is_recomputed_at_each_later_radius():
    # The styles fixed and corrected move the radius with η_t: fw_gap(x_0; r) for the new r.
    x0, g0 = t(0.1, -0.3, 0.05), t(1.0, 2.0, -0.5)
    x, g = t(0.2, -0.1, 0.0), t(0.1, 0.2, 0.0)
    geometry = {"x": {"norm": "linf", "scale": 1.0}}
    start = kkt.start_terms({"x": x0}, {"x": g0}, geometry)
    for r in (0.4, 1.0, 3.0):
        now = constraint_metrics([x], [g], weight_decay=1.0, radius=r)["fw_gap"]
        then = constraint_metrics([x0], [g0], weight_decay=1.0, radius=r)["fw_gap"]
        assert kkt.residual(now, start["box"], {"x": r}) == pytest.approx(now / then)


def test_attach_adds_both_residuals_overall_and_per_tensor():
    params = {"w": torch.eye(3, dtype=torch.float64) * 0.3, "b": t(0.1, -0.2)}
    grads = {"w": torch.ones(3, 3, dtype=torch.float64), "b": t(1.0, -1.0)}
    geometries = {"w": {"norm": "spectral", "scale": 0.5}, "b": {"norm": "linf", "scale": 1.0}}
    start = kkt.start_terms(params, grads, geometries)

    def measured(params, grads, radius):  # as bench/engine/evaluation.py assembles them
        overall = constraint_metrics(list(params.values()), list(grads.values()), 1 / radius)
        per = per_tensor_metrics(params, grads, 1 / radius)
        ball, ball_per = geometry_metrics(params, grads, {"w": "spectral", "b": "linf"},
                                          {"w": radius * 0.5, "b": radius})
        overall.update(ball)
        for n in per:
            per[n].update(ball_per[n])
        kkt.attach(start, radius, geometries, list(params), overall, per)
        return overall, per

    overall, per = measured(params, grads, 2.0)  # the start point itself
    for values in (overall, per["w"], per["b"]):
        assert values["kkt_residual"] == pytest.approx(1.0)
        assert values["ball_kkt_residual"] == pytest.approx(1.0)
    half = {n: g / 2 for n, g in grads.items()}  # fw_gap is linear in g
    overall, per = measured(params, half, 2.0)
    assert overall["kkt_residual"] == pytest.approx(0.5)
    assert per["w"]["ball_kkt_residual"] == pytest.approx(0.5)
    # The ball residual sums each tensor at its own radius (radius × scale).
    gap0 = sum(start["ball"][n][0] + r * start["ball"][n][1]
               for n, r in (("w", 1.0), ("b", 2.0)))
    assert overall["ball_kkt_residual"] == pytest.approx(overall["ball_fw_gap"] / gap0)


def test_undefined_where_the_initial_gap_is_not_positive_or_absent():
    infeasible = kkt.start_terms({"x": t(-2.0)}, {"x": t(1.0)},
                                 {"x": {"norm": "linf", "scale": 1.0}})
    assert math.isnan(kkt.start_gap(infeasible["box"], {"x": R}))  # fw_gap(x_0) = -1.5
    at_kkt = kkt.start_terms({"x": t(0.5, -0.5)}, {"x": t(-1.0, 3.0)},
                             {"x": {"norm": "linf", "scale": 1.0}})
    assert math.isnan(kkt.residual(0.1, at_kkt["box"], {"x": R}))  # fw_gap(x_0) = 0
    assert math.isnan(kkt.residual(0.1, None, {"x": R}))  # no step-0 probe
    assert math.isnan(kkt.residual(0.1, at_kkt["box"], {"y": R}))  # a tensor it never saw
    overall = {"fw_gap": math.nan}
    kkt.attach(at_kkt, None, {}, ["x"], overall, {})
    assert math.isnan(overall["kkt_residual"]) and math.isnan(overall["ball_kkt_residual"])
