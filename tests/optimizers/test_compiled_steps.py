"""The compiled one-pass steps (optimizers/compiled_steps.py): the code CUDA runs, exercised on
CPU through impl='compiled' against the eager path; the CUDA runs themselves are marked `cuda`.

Tolerance: the compiled kernel may contract a multiply-add into an FMA and keeps momentum as
b m + (1 - b) g where the eager path uses lerp, so fp32 results agree to a few ulps (rtol 1e-6
over 12 steps); the random gradients here keep every coordinate away from a sign tie."""

from contextlib import contextmanager

import pytest
import torch

import optimizers
import optimizers.base
from optimizers import compiled_steps

# every built-in with a compiled step (Adam uses torch's own fused kernel)
BUILTINS = {"signgd_wd": {}, "signgd_l2": {}, "signum": {"momentum": 0.9}, "lion": {},
            "lion_l2": {}, "sgdw": {}, "sgd_l2": {}}
SHAPES = [(6, 5), (11,)]
STEPS = 12


def _create(name, params, **kw):
    options = dict(BUILTINS[name])
    registered = "signgd_wd" if name == "signum" else name
    return optimizers.create(registered, params, lr=0.01, weight_decay=0.5, **options, **kw)


def _run(name, impl, dtype=torch.float32, device="cpu", steps=STEPS):
    gen = torch.Generator().manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(s, generator=gen).to(device, dtype))
              for s in SHAPES]
    grads = [[torch.randn(s, generator=gen).to(device, dtype) for s in SHAPES]
             for _ in range(steps)]
    opt = _create(name, params, impl=impl)
    for t in range(steps):
        opt.param_groups[0]["lr"] = 0.01 / (t + 1) ** 0.5  # a moving lr: no recompile
        for p, g in zip(params, grads[t]):
            p.grad = g
        opt.step()
    return [p.detach() for p in params], opt


@contextmanager
def _without_eager(monkeypatch):
    """Inside: fail if the eager update runs, which proves the compiled step did the work."""
    def eager(*args, **kwargs):
        raise AssertionError("the eager path ran")

    with monkeypatch.context() as patch:
        patch.setattr(optimizers.base, "apply_update", eager)
        yield


# Tests that run torch.compile (seconds for the first one in a process) are `slow`.
@pytest.mark.slow
@pytest.mark.parametrize("name", ["signgd_wd", "lion"])
def test_compiled_step_matches_the_eager_path(name, monkeypatch):
    with _without_eager(monkeypatch):
        compiled, _ = _run(name, "compiled")
    eager, _ = _run(name, "foreach")
    for c, e in zip(compiled, eager):
        torch.testing.assert_close(c, e, rtol=1e-6, atol=1e-7)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["signgd_l2", "signum", "lion_l2", "sgdw", "sgd_l2"])
def test_every_other_compiled_builtin_matches_the_eager_path(name):
    compiled, _ = _run(name, "compiled")
    eager, _ = _run(name, "foreach")
    for c, e in zip(compiled, eager):
        torch.testing.assert_close(c, e, rtol=1e-6, atol=1e-7)


@pytest.mark.slow
def test_new_lr_and_weight_decay_do_not_recompile():
    params, opt = _run("lion", "compiled", steps=2)
    with torch._dynamo.config.patch(error_on_recompile=True):
        for lr, wd in ((0.3, 0.0), (1e-5, 2.0), (0.02, 0.1)):
            opt.param_groups[0].update(lr=lr, weight_decay=wd)
            opt.step()
    assert all(torch.isfinite(p).all() for p in params)


@pytest.mark.slow
def test_bf16_parameters_step_in_fp32_with_fp32_state():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(64, generator=gen)
    g = torch.randn(64, generator=gen)
    p = torch.nn.Parameter(x.bfloat16())
    p.grad = g.bfloat16()
    opt = optimizers.create("lion", [p], lr=0.01, weight_decay=0.5, impl="compiled")
    opt.step()
    m = opt.state[p]["exp_avg"]
    assert m.dtype == torch.float32 and p.dtype == torch.bfloat16
    x32, g32 = x.bfloat16().float(), g.bfloat16().float()
    expected = x32 * (1 - 0.01 * 0.5) - 0.01 * torch.sign(0.1 * g32)  # m starts at 0
    torch.testing.assert_close(p.detach(), expected.bfloat16(), rtol=0, atol=0)
    torch.testing.assert_close(m, 0.01 * g32, rtol=1e-6, atol=0)


def test_fused_on_cpu_keeps_the_numba_kernels(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("compiled step on CPU under impl='fused'")

    monkeypatch.setattr(compiled_steps, "run", refuse)
    params, _ = _run("lion", "fused", steps=2)
    assert all(torch.isfinite(p).all() for p in params)


def test_compiled_step_falls_back_to_eager_with_a_warning_when_compiling_fails(monkeypatch):
    def broken(name):
        def step(*args, **kwargs):
            raise torch._dynamo.exc.BackendCompilerFailed(lambda *a: None,
                                                          RuntimeError("no compiler"), None)
        return step

    monkeypatch.setattr(compiled_steps, "compiled", broken)
    with pytest.warns(RuntimeWarning, match="could not compile"):
        fallback, _ = _run("signgd_wd", "compiled", steps=2)
    eager, _ = _run("signgd_wd", "foreach", steps=2)
    for a, b in zip(fallback, eager):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


cuda = pytest.mark.cuda


@cuda
@pytest.mark.parametrize("name", list(BUILTINS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cuda_fused_step_matches_the_cpu_reference(name, dtype, monkeypatch):
    with _without_eager(monkeypatch):
        on_gpu, opt = _run(name, "fused", dtype=dtype, device="cuda")
    assert all(m.dtype == torch.float32 for state in opt.state.values()
               for m in state.values() if torch.is_tensor(m) and m.dim())
    reference, _ = _run(name, "compiled", dtype=dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-2, atol=1e-2)
    for a, b in zip(on_gpu, reference):
        torch.testing.assert_close(a.cpu(), b, **tol)


@cuda
def test_cuda_adamw_is_torch_fused_adamw():
    gen = torch.Generator().manual_seed(0)
    x = [torch.randn(s, generator=gen) for s in SHAPES]
    grads = [[torch.randn(s, generator=gen) for s in SHAPES] for _ in range(STEPS)]
    ours = [torch.nn.Parameter(t.cuda()) for t in x]
    ref = [torch.nn.Parameter(t.clone()) for t in x]
    a = optimizers.create("adamw", ours, lr=1e-2, weight_decay=0.1)
    b = torch.optim.AdamW(ref, lr=1e-2, weight_decay=0.1)
    for gs in grads:
        for p, q, g in zip(ours, ref, gs):
            p.grad, q.grad = g.cuda(), g.clone()
        a.step()
        b.step()
    for p, q in zip(ours, ref):
        torch.testing.assert_close(p.detach().cpu(), q.detach(), rtol=1e-5, atol=1e-6)
