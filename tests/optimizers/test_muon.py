import pytest
import torch
from torch.optim._muon import _zeropower_via_newtonschulz

import optimizers
from optimizers.muon import Muon, hidden_matrix, lr_adjustment, newton_schulz, polar_factor


def _matrices(seed, shapes, dtype):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=gen, dtype=dtype) for s in shapes]


def _run(opt, params, grads_per_step):
    for grads in grads_per_step:
        for p, g in zip(params, grads):
            p.grad = g.clone()
        opt.step()
    return [p.detach().clone() for p in params]


def test_newton_schulz_is_torchs_iteration_bit_for_bit():
    for shape in ((5, 3), (3, 5), (4, 4)):
        (u,) = _matrices(0, [shape], torch.float32)
        ours = newton_schulz(u)
        theirs = _zeropower_via_newtonschulz(u, (3.4445, -4.7750, 2.0315), 5, 1e-7)
        assert torch.equal(ours, theirs)


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-6), (torch.float64, 1e-12)])
@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("adjust", ["original", "match_rms_adamw"])
def test_muon_matches_torch_muon_step_for_step(dtype, tol, nesterov, adjust):
    shapes = [(6, 4), (4, 6), (5, 5)]
    init = _matrices(1, shapes, dtype)
    steps = [_matrices(10 + i, shapes, dtype) for i in range(10)]
    hyper = dict(lr=0.02, weight_decay=0.1, momentum=0.9, nesterov=nesterov, adjust_lr_fn=adjust)
    ours = [p.clone().requires_grad_() for p in init]
    theirs = [p.clone().requires_grad_() for p in init]
    a = _run(optimizers.create("muon", ours, **hyper), ours, steps)
    b = _run(torch.optim.Muon(theirs, **hyper), theirs, steps)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=tol, atol=tol)
    assert not torch.equal(a[0], init[0])


def test_muon_l2_puts_the_decay_into_the_gradient_before_the_momentum():
    (w0,) = _matrices(2, [(4, 3)], torch.float64)
    grads = [_matrices(20 + i, [(4, 3)], torch.float64)[0] for i in range(5)]
    coupled = w0.clone().requires_grad_()
    opt = optimizers.create("muon_l2", [coupled], lr=0.05, weight_decay=0.3)
    plain = w0.clone().requires_grad_()
    reference = Muon([plain], lr=0.05, weight_decay=0.0, decay="none")
    for g in grads:
        coupled.grad = g.clone()
        plain.grad = g + 0.3 * plain.detach()
        opt.step()
        reference.step()
    torch.testing.assert_close(coupled, plain, rtol=1e-12, atol=1e-12)


def test_svd_orthogonalization_is_the_exact_polar_factor():
    (u,) = _matrices(3, [(6, 4)], torch.float64)
    o = polar_factor(u)
    torch.testing.assert_close(torch.linalg.svdvals(o), torch.ones(4, dtype=torch.float64))
    torch.testing.assert_close(o.T @ u, (o.T @ u).T)  # O^T u symmetric positive: polar
    assert polar_factor(torch.zeros(3, 2)).abs().max() == 0
    # Newton-Schulz only approximates it: its singular values spread around 1.
    ns = torch.linalg.svdvals(newton_schulz(u).double())
    assert float((ns - 1).abs().max()) > 0.05


def test_svd_step_has_spectral_norm_s_exactly():
    (w,) = _matrices(4, [(8, 2)], torch.float64)
    p = torch.zeros_like(w).requires_grad_()
    opt = optimizers.create("muon", [p], lr=1.0, weight_decay=0.0, orthogonalize="svd")
    p.grad = w
    opt.step()
    s = lr_adjustment("original", (8, 2))
    assert s == pytest.approx(2.0)
    assert float(torch.linalg.matrix_norm(p.detach(), ord=2)) == pytest.approx(s)


def test_recipe_sends_embeddings_heads_and_vectors_to_adam():
    model = torch.nn.ModuleDict({"wte": torch.nn.Embedding(10, 4), "hidden": torch.nn.Linear(4, 4),
                                 "lm_head": torch.nn.Linear(4, 10, bias=False)})
    named = list(model.named_parameters())
    opt = optimizers.create("muon", [{"params": named}], lr=0.01, weight_decay=0.1,
                            adjust_lr_fn="match_rms_adamw", adam_lr_ratio=0.5)
    geometry = {n: opt.tensor_geometry(p) for n, p in named}
    assert geometry == {"wte.weight": ("linf", 0.5), "hidden.weight": ("spectral", 0.4),
                        "hidden.bias": ("linf", 0.5), "lm_head.weight": ("linf", 0.5)}
    spec = optimizers.spec("muon")
    assert {n: spec.norm_for(n, p) for n, p in named} == {n: g[0] for n, g in geometry.items()}
    assert optimizers.spec("adamw").norm_for("hidden.weight", model.hidden.weight) == "linf"
    assert not hidden_matrix(None, torch.zeros(3)) and hidden_matrix(None, torch.zeros(2, 3))


def test_adam_part_is_adamw():
    (x0,) = _matrices(5, [(7,)], torch.float64)
    grads = [_matrices(30 + i, [(7,)], torch.float64) for i in range(6)]
    ours, theirs = x0.clone().requires_grad_(), x0.clone().requires_grad_()
    a = _run(optimizers.create("muon", [ours], lr=0.01, weight_decay=0.2), [ours], grads)
    b = _run(torch.optim.AdamW([theirs], lr=0.01, weight_decay=0.2, betas=(0.9, 0.95)),
             [theirs], grads)
    torch.testing.assert_close(a[0], b[0], rtol=1e-12, atol=1e-12)


def test_bad_options_are_refused():
    p = [torch.zeros(2, 2, requires_grad=True)]
    for bad in ({"orthogonalize": "qr"}, {"adjust_lr_fn": "x"}, {"momentum": 1.0},
                {"ns_steps": 0}, {"adam_lr_ratio": 0.0}):
        with pytest.raises(ValueError):
            Muon(p, lr=0.1, **bad)
