"""The matrix quadratic: construction, exact optima in three geometries, and which optimum each
optimizer ends at (Muon: the spectral ball; AdamW: the box; coupled decay: the l2 optimum)."""

import math

import pytest
import torch

import optimizers
import tasks
from bench.measures.metrics import geometry_metrics
from tasks.box_qp import fw_gap
from tasks.matrix_quadratic import MatrixQuadraticTask
from tasks.spectral_qp import spectral_fw_gap

LAMBDA = 2.0
LR0 = 0.05  # eta_t = LR0 / sqrt(t)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make(**options):
    return tasks.create("matrix_quadratic", "smoke", options)


def run_inverse_sqrt(task, name, steps, **hyper):
    """Full-batch training on the closed-form gradient; the distances at the end."""
    model = task.build_model(seed=0)
    opt = optimizers.create(name, [{"params": [("w", model.w)], "weight_decay": LAMBDA}],
                            lr=LR0, **hyper)
    for t in range(1, steps + 1):
        opt.param_groups[0]["lr"] = LR0 / math.sqrt(t)
        model.w.grad = model.full_gradient()
        opt.step()
    return task.extra_metrics(model, LAMBDA, None), model.w.detach().double()


def test_registered_and_scaled_so_several_singular_values_leave_the_ball():
    assert tasks.get("matrix_quadratic") is MatrixQuadraticTask
    task = make()
    assert task.decay_mask(task.build_model(0), task.default_mask) == {"w": True}
    sigma = torch.linalg.svdvals(task.c)
    assert int((sigma > 1 / LAMBDA).sum()) == 6
    assert task.describe()["instance"]["singular_values_outside_ref_ball"] == 6


def test_options_are_validated():
    assert make(rows="8", cols="12").c.shape == (8, 12)
    with pytest.raises(ValueError, match="task.kind='dense' is not allowed; use one of isotropic, "
                                         "anisotropic"):
        make(kind="dense")
    with pytest.raises(ValueError, match="unknown matrix_quadratic option"):
        make(dim=3)
    with pytest.raises(ValueError,
                       match=r"task.cond=0.5 is not allowed; use a float in \[1, 1e\+12\]"):
        make(cond=0.5)


def test_autograd_gradient_is_the_closed_form():
    task = make(kind="anisotropic")
    model = task.build_model(1)
    task.loss(model, torch.zeros(1, 1)).backward()
    torch.testing.assert_close(model.w.grad, model.full_gradient())
    torch.testing.assert_close(model.full_gradient().double(), task.gradient(model.w),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["isotropic", "anisotropic"])
def test_the_three_optima_are_exact(kind):
    task = make(kind=kind)
    r = 1 / LAMBDA
    spectral = task.spectral_optimum(LAMBDA)
    g = task.gradient(spectral)
    overall, _ = geometry_metrics({"w": spectral}, {"w": g}, {"w": "spectral"}, r)
    assert overall["ball_ratio"] == pytest.approx(1.0)
    assert abs(overall["ball_fw_gap"]) < 1e-9  # a KKT point of the spectral ball
    box = task.box_optimum(LAMBDA)
    assert float(box.abs().max()) <= r + 1e-12
    overall, _ = geometry_metrics({"w": box}, {"w": task.gradient(box)}, {"w": "linf"}, r)
    assert abs(overall["ball_fw_gap"]) < 1e-9
    l2 = task.l2_optimum(LAMBDA)
    assert float((task.gradient(l2) + LAMBDA * l2).abs().max()) < 1e-12
    # Three different answers, and each optimum is best in its own set.
    pairs = ((spectral, box), (box, l2), (l2, spectral))
    assert min(float((a - b).norm()) for a, b in pairs) > 0.1
    l2_in_the_ball = l2 * (r / float(torch.linalg.svdvals(l2)[0]))
    assert task.loss_value(spectral) < task.loss_value(l2_in_the_ball)


@pytest.mark.parametrize("kind", ["isotropic", "anisotropic"])
def test_an_infinite_radius_has_the_unconstrained_optimum(kind):
    # AdamC's radius at η_t = 0 (the end of a cosine schedule): no ball, no box.
    task = make(kind=kind)
    torch.testing.assert_close(task.spectral_optimum(LAMBDA, math.inf), task.c)
    torch.testing.assert_close(task.box_optimum(LAMBDA, math.inf), task.c)


def test_isotropic_spectral_optimum_clips_the_singular_values():
    task = make()
    u, s, vh = torch.linalg.svd(task.c)
    torch.testing.assert_close(task.spectral_optimum(LAMBDA), (u * s.clamp(max=0.5)) @ vh)
    torch.testing.assert_close(task.box_optimum(LAMBDA), task.c.clamp(-0.5, 0.5))
    torch.testing.assert_close(task.l2_optimum(LAMBDA), task.c / 3)


def test_anisotropic_solvers_certify_their_answers():
    task = make(kind="anisotropic", rows=6, cols=4)
    w = task.spectral_optimum(LAMBDA)
    assert spectral_fw_gap(task.left, task.right, task.c, w, 0.5) < 1e-9
    box = task.box_optimum(LAMBDA)
    hessian = torch.kron(task.right, task.left)
    assert fw_gap(hessian, task.c.T.reshape(-1), box.T.reshape(-1), 0.5) < 1e-9


@pytest.mark.slow  # every optimizer trained to its optimum
@pytest.mark.parametrize("kind", ["isotropic", "anisotropic"])
def test_each_optimizer_ends_at_its_own_optimum(kind):
    task = make(kind=kind)
    exact, w = run_inverse_sqrt(task, "muon", 3000, orthogonalize="svd")
    assert exact["dist_spectral"] < 5e-3 and exact["dist_box"] > 0.3
    assert float(torch.linalg.svdvals(w)[0]) * LAMBDA == pytest.approx(1.0, abs=2e-3)
    ns, w = run_inverse_sqrt(task, "muon", 3000)  # Newton-Schulz: a larger ball, still not the box
    assert ns["dist_spectral"] < 0.15 and ns["dist_box"] > 0.3
    assert 1.05 < float(torch.linalg.svdvals(w)[0]) * LAMBDA < 1.25
    adamw, _ = run_inverse_sqrt(task, "adamw", 3000, betas=(0.9, 0.99))
    assert adamw["dist_box"] < 2e-2 and adamw["dist_spectral"] > 0.3
    for name in ("adam_l2", "muon_l2"):
        coupled, _ = run_inverse_sqrt(task, name, 3000)
        assert coupled["dist_l2"] < 5e-3, name
        assert coupled["dist_spectral"] > 0.1 and coupled["dist_box"] > 0.1, name
