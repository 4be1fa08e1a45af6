"""The one-pass sign kernels (impl="fused") against the eager foreach path (recipe table)."""

import copy
import sys

import pytest
import torch

import optimizers

# name, extra hyper-parameters: every sign/Lion built-in, each decay style, Signum momentum.
RECIPES = [
    ("signgd_wd", {}),
    ("signgd_wd", {"momentum": 0.9}),
    ("signgd_wd", {"decay": "independent"}),
    ("signgd_wd", {"decay": "none"}),
    ("signgd_wd", {"momentum": 0.9, "decay": "independent"}),
    ("signgd_wd", {"momentum": 0.9, "decay": "none"}),
    ("signgd_l2", {}),
    ("signgd_l2", {"momentum": 0.9}),
    ("lion", {}),
    ("lion", {"decay": "independent"}),
    ("lion", {"decay": "none"}),
    ("lion_l2", {}),
]


@pytest.fixture
def kernel_calls(monkeypatch):
    """Counts calls into the numba kernels, so a test knows the fused path really ran."""
    from optimizers import sign_kernels

    calls = []
    for name in ("sign_update", "lion_update"):
        real = getattr(sign_kernels, name)
        monkeypatch.setattr(sign_kernels, name,
                            lambda *a, _real=real, **k: calls.append(1) or _real(*a, **k))
    return calls


def _mlp(dtype=torch.float32) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(),
                               torch.nn.Linear(16, 4)).to(dtype)


def _groups(model: torch.nn.Module, wd: float) -> list[dict]:
    return [
        {"params": [model[0].weight], "weight_decay": wd},
        {"params": [model[0].bias, model[2].bias], "weight_decay": 0.0},
        {"params": [model[2].weight], "weight_decay": wd / 2, "lr": 3e-3},
    ]


def _train(model: torch.nn.Module, opt: torch.optim.Optimizer, steps: int) -> None:
    gen = torch.Generator().manual_seed(1)
    dtype = next(model.parameters()).dtype
    for _ in range(steps):
        x = torch.randn(32, 8, generator=gen).to(dtype)
        y = torch.randn(32, 4, generator=gen).to(dtype)
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def _pair(name, extra, dtype=torch.float32, wd=0.5, steps=100):
    out = []
    for impl in ("fused", "foreach"):
        model = _mlp(dtype)
        opt = optimizers.create(name, _groups(model, wd), lr=1e-3, impl=impl, **extra)
        _train(model, opt, steps)
        out.append((model, opt))
    return out


@pytest.mark.parametrize("name,extra", RECIPES,
                         ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in e.items())}"
                              for n, e in RECIPES])
def test_fused_matches_foreach(name, extra, kernel_calls):
    (fused, fused_opt), (eager, eager_opt) = _pair(name, extra)
    assert len(kernel_calls) == 100 * 3  # every step, every group
    for a, b in zip(fused.parameters(), eager.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    for p_a, p_b in zip(fused.parameters(), eager.parameters()):
        for key, value in fused_opt.state[p_a].items():
            torch.testing.assert_close(value, eager_opt.state[p_b][key], rtol=1e-6, atol=1e-7)


def test_float64_goes_through_the_kernel_too(kernel_calls):
    (fused, _), (eager, _) = _pair("lion", {}, dtype=torch.float64)
    assert kernel_calls
    for a, b in zip(fused.parameters(), eager.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_signgd_kernel_is_bit_identical_to_the_eager_step(kernel_calls):
    (fused, _), (eager, _) = _pair("signgd_wd", {})
    assert kernel_calls
    for a, b in zip(fused.parameters(), eager.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("decay", ["decoupled", "independent", "none"])
def test_edge_values_match_the_eager_step_bit_for_bit(decay, kernel_calls):
    # torch's sign: sign(0) = sign(-0) = sign(NaN) = 0; -0, inf and the sign bit of zeros kept.
    nan, inf = float("nan"), float("inf")
    x0 = torch.tensor([1.0, -0.0, 0.0, inf, -inf, 2.0, -3.0, 0.5])
    grads = [torch.tensor([nan, 0.0, -0.0, 1.0, -1.0, 0.0, -0.0, 3.0]),
             torch.tensor([0.0, nan, 1.0, 0.0, nan, -2.0, inf, -inf])]
    out = []
    for impl in ("fused", "foreach"):
        p = torch.nn.Parameter(x0.clone())
        opt = optimizers.create("signgd_wd", [p], lr=0.1, weight_decay=0.5, decay=decay,
                                impl=impl)
        for g in grads:
            p.grad = g.clone()
            opt.step()
        out.append(p.detach())
    assert len(kernel_calls) == 2
    assert torch.equal(out[0].isnan(), out[1].isnan())
    ok = ~out[1].isnan()
    assert torch.equal(out[0][ok], out[1][ok])
    assert torch.equal(out[0].signbit(), out[1].signbit())


@pytest.mark.parametrize("name", ["signgd_wd", "lion"])
def test_zero_gradient_only_shrinks(name, kernel_calls):
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    opt = optimizers.create(name, [p], lr=0.1, weight_decay=0.5, impl="fused")
    p.grad = torch.zeros(3)
    opt.step()  # sign(0) = 0: the decoupled shrink alone
    assert kernel_calls
    assert torch.equal(p.detach(), torch.tensor([1.0, -2.0, 0.5]) * torch.tensor(0.95))


def test_coupled_decay_with_an_infinite_parameter_keeps_it_infinite():
    # g + 0 * x is skipped at wd = 0 (0 * inf would be NaN), as the eager path skips it.
    p = torch.nn.Parameter(torch.tensor([float("inf"), 1.0]))
    opt = optimizers.create("signgd_l2", [p], lr=0.1, weight_decay=0.0, impl="fused")
    p.grad = torch.tensor([1.0, 1.0])
    opt.step()
    assert torch.equal(p.detach(), torch.tensor([float("inf"), 0.9]))


@pytest.mark.parametrize("make", [
    pytest.param(lambda: torch.nn.Parameter(torch.randn(4, 3).t()), id="non-contiguous"),
    pytest.param(lambda: torch.nn.Parameter(torch.randn(5, dtype=torch.bfloat16)), id="bf16"),
])
def test_tensors_the_kernel_does_not_take_run_the_eager_path(make, kernel_calls):
    torch.manual_seed(3)
    fused_p = make()
    eager_p = torch.nn.Parameter(fused_p.detach().clone())  # clone keeps the strides
    grads = [torch.randn(fused_p.shape).to(fused_p.dtype) for _ in range(3)]
    for p, impl in ((fused_p, "fused"), (eager_p, "foreach")):
        opt = optimizers.create("lion", [p], lr=1e-2, weight_decay=0.5, impl=impl)
        for g in grads:
            p.grad = g.clone()
            opt.step()
    assert not kernel_calls
    assert torch.equal(fused_p.detach(), eager_p.detach())


def test_a_non_contiguous_state_buffer_runs_the_eager_path(kernel_calls):
    # E.g. a momentum buffer saved from a channels_last model, loaded into a contiguous one.
    torch.manual_seed(4)
    p, q = (torch.nn.Parameter(torch.ones(3, 4)) for _ in range(2))
    m = torch.randn(4, 3)
    for param, impl in ((p, "fused"), (q, "foreach")):
        opt = optimizers.create("lion", [param], lr=0.1, impl=impl)
        opt.state[param]["exp_avg"] = m.clone().t()  # same values, transposed strides
        param.grad = torch.full((3, 4), 0.5)
        opt.step()
    assert not kernel_calls
    assert torch.equal(p.detach(), q.detach())


def test_groups_choose_their_implementation(kernel_calls):
    model = _mlp()
    groups = _groups(model, 0.5)
    groups[1]["impl"] = "foreach"
    opt = optimizers.create("lion", groups, lr=1e-3)
    _train(model, opt, 2)
    assert len(kernel_calls) == 2 * 2  # groups 0 and 2, two steps
    with pytest.raises(ValueError, match="impl must be one of"):
        opt.add_param_group({"params": [torch.nn.Parameter(torch.ones(2))], "impl": "fast"})


def test_a_state_dict_from_before_impl_existed_loads_with_the_default():
    model = _mlp()
    opt = optimizers.create("signgd_wd", model.parameters(), lr=1e-3)
    _train(model, opt, 2)
    old = copy.deepcopy(opt.state_dict())
    for group in old["param_groups"]:
        del group["impl"]
    opt.load_state_dict(old)
    assert all(group["impl"] == "fused" for group in opt.param_groups)


def test_fused_step_bumps_autograd_version_counters():
    # A graph that saved the parameter must notice the in-place change, as with torch's ops.
    p = torch.nn.Parameter(torch.randn(4))
    opt = optimizers.create("lion", [p], lr=1e-2, impl="fused")
    loss = (p * p).sum()
    p.grad = torch.ones(4)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_state_dict_moves_between_implementations():
    # Fused and foreach keep the same state, so a run can resume under either.
    (fused, fused_opt), _ = _pair("lion", {}, steps=20)
    eager = _mlp()
    eager.load_state_dict(fused.state_dict())
    eager_opt = optimizers.create("lion", _groups(eager, 0.5), lr=1e-3, impl="foreach")
    # A copy: state_dict() hands out the live state tensors, and loading keeps them.
    eager_opt.load_state_dict(copy.deepcopy(fused_opt.state_dict()))
    for group in eager_opt.param_groups:
        group["impl"] = "foreach"
    _train(fused, fused_opt, 20)
    _train(eager, eager_opt, 20)
    for a, b in zip(fused.parameters(), eager.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_without_numba_fused_warns_and_runs_the_eager_path(monkeypatch):
    monkeypatch.setitem(sys.modules, "optimizers.sign_kernels", None)  # import now fails
    p, q = (torch.nn.Parameter(torch.ones(3)) for _ in range(2))
    for param, impl in ((p, "fused"), (q, "foreach")):
        param.grad = torch.tensor([1.0, -1.0, 0.0])
        opt = optimizers.create("signgd_wd", [param], lr=0.1, weight_decay=0.5, impl=impl)
        if impl == "fused":
            with pytest.warns(RuntimeWarning, match="pip install numba"):
                opt.step()
        else:
            opt.step()
    assert torch.equal(p.detach(), q.detach())


def test_unknown_impl_is_refused():
    with pytest.raises(ValueError, match="impl must be one of"):
        optimizers.create("lion", [torch.nn.Parameter(torch.ones(2))], impl="triton")
