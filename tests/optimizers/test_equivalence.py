"""Built-ins against their reference implementations, step for step (recipe table)."""

import copy

import pytest
import torch

import optimizers


def _mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4))


def _groups(model: torch.nn.Module, wd: float) -> list[dict]:
    first, second = model[0], model[2]
    return [
        {"params": [first.weight], "weight_decay": wd},
        {"params": [first.bias, second.bias], "weight_decay": 0.0},
        {"params": [second.weight], "weight_decay": wd / 2, "lr": 3e-3},
    ]


def _train(model: torch.nn.Module, opt: torch.optim.Optimizer, steps: int = 200) -> None:
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x = torch.randn(32, 8, generator=gen)
        y = torch.randn(32, 4, generator=gen)
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


REFERENCES = [
    # name, reference constructor, extra hyper-parameters
    ("adamw", lambda groups, lr: torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99)),
     {"betas": (0.9, 0.99)}),
    ("adam_l2", lambda groups, lr: torch.optim.Adam(groups, lr=lr, betas=(0.9, 0.99)),
     {"betas": (0.9, 0.99)}),
    ("sgd_l2", lambda groups, lr: torch.optim.SGD(groups, lr=lr, momentum=0.9), {}),
]


CASES = [(name, make, extra, impl) for name, make, extra in REFERENCES
         for impl in (["fused", "foreach", "loop"] if name.startswith("adam") else [None])]


@pytest.mark.parametrize("name,make_reference,extra,impl", CASES,
                         ids=[f"{c[0]}-{c[3]}" if c[3] else c[0] for c in CASES])
def test_matches_torch_reference(name, make_reference, extra, impl):
    ours, ref = _mlp(), _mlp()
    hyper = dict(extra, impl=impl) if impl else extra
    opt = optimizers.create(name, _groups(ours, 0.1), lr=1e-3, **hyper)
    _train(ours, opt)
    _train(ref, make_reference(_groups(ref, 0.1), 1e-3))
    for a, b in zip(ours.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def _reference_lion(params, grads, state, lr, wd, beta1, beta2):
    """The published Lion update (Chen et al. 2023, Program 1), decay as x(1 - lr wd)."""
    for p, g in zip(params, grads):
        m = state.setdefault(id(p), torch.zeros_like(p))
        update = (beta1 * m + (1 - beta1) * g).sign()
        p.mul_(1 - lr * wd).add_(update, alpha=-lr)
        m.mul_(beta2).add_(g, alpha=1 - beta2)


def _reference_signgd_wd(params, grads, state, lr, wd, beta1, beta2):
    for p, g in zip(params, grads):
        p.mul_(1 - lr * wd).sub_(lr * g.sign())


@pytest.mark.parametrize("name,reference", [("lion", _reference_lion),
                                            ("signgd_wd", _reference_signgd_wd)])
def test_matches_published_formula(name, reference):
    ours = _mlp()
    ref = copy.deepcopy(ours)
    opt = optimizers.create(name, ours.parameters(), lr=1e-3, weight_decay=0.5)
    state: dict = {}
    gen = torch.Generator().manual_seed(1)
    for _ in range(200):
        x, y = torch.randn(32, 8, generator=gen), torch.randn(32, 4, generator=gen)
        for model in (ours, ref):
            model.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        with torch.no_grad():
            ps = list(ref.parameters())
            reference(ps, [p.grad for p in ps], state, 1e-3, 0.5, 0.9, 0.99)
    for a, b in zip(ours.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["adamw", "signgd_wd", "lion", "sgdw"])
def test_independent_style_decays_with_the_schedule_multiplier(name):
    """Zero gradient: decoupled shrinks by lr*wd, independent by (lr/lr_max)*wd."""
    p = torch.nn.Parameter(torch.ones(3))
    opt = optimizers.create(name, [p], lr=0.1, weight_decay=0.5, decay="independent")
    opt.param_groups[0]["lr"] = 0.05  # a scheduler halved the lr
    p.grad = torch.zeros(3)
    opt.step()
    torch.testing.assert_close(p.detach(), torch.full((3,), 1 - 0.5 * 0.5))
