"""The speed-minded code paths (buckets of tensors, the sign kernels, torch's fused SGD kernel)
keep the maths."""

import pytest
import torch

import optimizers
from optimizers.base import BUCKET_ELEMENTS


def _params(shapes, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in shapes]


@pytest.mark.parametrize("impl", ["foreach", "fused"])
def test_buckets_of_mixed_sizes_follow_the_formula(impl):
    # foreach: small tensors share buckets, a large one gets its own; fused: one kernel call per
    # tensor. Both follow x(1 - lr wd) - lr sign(g) bit for bit.
    shapes = [(3,), (BUCKET_ELEMENTS // 2,), (BUCKET_ELEMENTS + 5,), (7, 3), (11,)]
    ours, ref = _params(shapes), _params(shapes)
    opt = optimizers.create("signgd_wd", ours, lr=1e-3, weight_decay=0.5, impl=impl)
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        grads = [torch.randn(s, generator=gen) for s in shapes]
        for p, g in zip(ours, grads):
            p.grad = g.clone()
        opt.step()
        with torch.no_grad():
            for p, g in zip(ref, grads):
                p.mul_(1 - 1e-3 * 0.5).sub_(1e-3 * g.sign())
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_sgd_parameter_with_a_late_first_gradient_matches_torch():
    ours, ref = _params([(4,), (5,)]), _params([(4,), (5,)])
    opt = optimizers.create("sgd_l2", ours, lr=0.1, weight_decay=0.01, momentum=0.9)
    ref_opt = torch.optim.SGD(ref, lr=0.1, weight_decay=0.01, momentum=0.9)
    gen = torch.Generator().manual_seed(2)
    for step in range(4):
        grads = [torch.randn(4, generator=gen), torch.randn(5, generator=gen)]
        for params in (ours, ref):
            for i, (p, g) in enumerate(zip(params, grads)):
                p.grad = g.clone() if step > 0 or i == 0 else None
        opt.step()
        ref_opt.step()
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgdw_is_decoupled_heavy_ball(nesterov):
    ours, ref = _params([(6,)]), _params([(6,)])
    opt = optimizers.create("sgdw", ours, lr=0.1, weight_decay=0.2, momentum=0.9,
                            nesterov=nesterov)
    buf = torch.zeros(6)
    gen = torch.Generator().manual_seed(3)
    for _ in range(5):
        g = torch.randn(6, generator=gen)
        ours[0].grad = g.clone()
        opt.step()
        with torch.no_grad():
            buf.mul_(0.9).add_(g)
            d = g + 0.9 * buf if nesterov else buf
            ref[0].mul_(1 - 0.1 * 0.2).sub_(0.1 * d)
    torch.testing.assert_close(ours[0], ref[0], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["adamw", "signgd_wd", "muon"])
def test_zero_grad_clears_every_group_as_torch_does(name):
    shapes = [(4, 3), (5,)] if name != "muon" else [(4, 3), (3, 4)]
    params = _params(shapes)
    groups = [{"params": params[:1]}, {"params": params[1:], "weight_decay": 0.0}]
    opt = optimizers.create(name, groups, lr=1e-2, weight_decay=0.1)
    for p in params:
        p.grad = torch.ones_like(p)
    opt.zero_grad(set_to_none=False)  # torch's own: zeros in place, the tensors stay
    kept = [p.grad for p in params]
    assert all(g is not None and not g.any() for g in kept)
    opt.zero_grad()  # the default, set_to_none=True: every group's grads become None
    assert all(p.grad is None for p in params)
