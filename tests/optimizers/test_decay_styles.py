"""Every direction x every decay style against a plain transcription of SPEC §2, over 60 steps
of a scheduled lr in float64; and, where a library ships the same algorithm
(pytorch_optimizer: fixed_decay, AdamC), against it."""

import math

import pytest
import torch

import optimizers
from optimizers.decay import DecayStyle

STEPS = 60
LR_MAX = 0.02
WD = {"fixed": 0.01}  # a per-step fraction; every other style takes λ = 0.5
STYLES = [s.value for s in DecayStyle]
# direction name -> (registered optimizer, hyper-parameters, implementations)
DIRECTIONS = {
    "adam": ("adamw", {"betas": (0.9, 0.99), "eps": 1e-8}, ("fused", "foreach", "loop")),
    "sign": ("signgd_wd", {"momentum": 0.0}, ("fused", "compiled", "foreach")),
    "signum": ("signgd_wd", {"momentum": 0.9}, ("fused", "compiled", "foreach")),
    "lion": ("lion", {"betas": (0.9, 0.99)}, ("fused", "compiled", "foreach")),
    "sgd": ("sgdw", {"momentum": 0.9}, ("fused", "compiled", "foreach")),
}


def lr_at(t: int) -> float:
    return LR_MAX / math.sqrt(t + 1)  # inverse_sqrt: the schedule moves every step


def problem(seed: int = 0):
    """Two tensors and a gradient g = A x - b + noise_t that feeds x back into the stream."""
    gen = torch.Generator().manual_seed(seed)
    x0 = [torch.randn(5, 4, generator=gen, dtype=torch.float64),
          torch.randn(7, generator=gen, dtype=torch.float64)]
    n = sum(x.numel() for x in x0)
    a = torch.randn(n, n, generator=gen, dtype=torch.float64)
    a = a @ a.T / n + torch.eye(n, dtype=torch.float64)
    b = 3 * torch.randn(n, generator=gen, dtype=torch.float64)
    noise = torch.randn(STEPS, n, generator=gen, dtype=torch.float64)

    def grads(xs, t):
        flat = a @ torch.cat([x.flatten() for x in xs]) - b + noise[t]
        return [g.view_as(x) for g, x in zip(flat.split([x.numel() for x in xs]), xs)]

    return x0, grads


def transcription(direction: str, hyper: dict, style: str, wd: float):
    """The update rules of SPEC §2 written out plainly, one coordinate array at a time."""
    state: dict = {}

    def step(i, x, g, t, lr):
        s = state.setdefault(i, {"m": torch.zeros_like(x), "v": torch.zeros_like(x)})
        if style == "coupled":
            g = g + wd * x
        if direction == "adam":
            b1, b2 = hyper["betas"]
            s["m"] = b1 * s["m"] + (1 - b1) * g
            s["v"] = b2 * s["v"] + (1 - b2) * g * g
            m_hat = s["m"] / (1 - b1 ** (t + 1))
            v_hat = s["v"] / (1 - b2 ** (t + 1))
            d = m_hat / (v_hat.sqrt() + hyper["eps"])
        elif direction in ("sign", "signum"):
            beta = hyper["momentum"]
            s["m"] = beta * s["m"] + (1 - beta) * g
            d = s["m"].sign()
        elif direction == "lion":
            b1, b2 = hyper["betas"]
            d = (b1 * s["m"] + (1 - b1) * g).sign()
            s["m"] = b2 * s["m"] + (1 - b2) * g
        else:  # sgd, heavy ball in torch's convention
            s["m"] = hyper["momentum"] * s["m"] + g
            d = s["m"]
        if style == "decoupled":
            return (1 - lr * wd) * x - lr * d
        if style == "independent":
            return (1 - (lr / LR_MAX) * wd) * x - lr * d
        if style == "fixed":
            return (1 - wd) * x - lr * d
        if style == "corrected":
            wd_t = wd * lr / LR_MAX
            return (1 - lr * wd_t) * x - lr * d
        if style == "cautious":
            agree = (d * x >= 0).to(x.dtype)
            return x - lr * (d + wd * agree * x)
        return x - lr * d  # coupled (decay went into g) and none

    return step


# impl="compiled" runs torch.compile (seconds for the first one in a process): `slow`.
CASES = [pytest.param(direction, impl, style, id=f"{direction}-{impl}-{style}",
                      marks=[pytest.mark.slow] if impl == "compiled" else [])
         for direction, (_, _, impls) in DIRECTIONS.items() for impl in impls
         for style in STYLES]


@pytest.mark.parametrize("direction,impl,style", CASES)
def test_every_direction_and_style_follows_the_formula(direction, impl, style):
    name, hyper, _ = DIRECTIONS[direction]
    wd = WD.get(style, 0.5)
    x0, grads = problem()
    params = [torch.nn.Parameter(x.clone()) for x in x0]
    opt = optimizers.create(name, params, lr=LR_MAX, weight_decay=wd, decay=style,
                            **hyper, **({"impl": impl} if impl else {}))
    ref = [x.clone() for x in x0]
    ref_step = transcription(direction, hyper, style, wd)
    for t in range(STEPS):
        opt.param_groups[0]["lr"] = lr = lr_at(t)
        for p, g in zip(params, grads([p.detach() for p in params], t)):
            p.grad = g
        opt.step()
        ref = [ref_step(i, x, g, t, lr) for i, (x, g) in enumerate(zip(ref, grads(ref, t)))]
    for p, x in zip(params, ref):
        torch.testing.assert_close(p.detach(), x, rtol=1e-9, atol=1e-12)


def test_cautious_decay_skips_exactly_the_coordinates_the_update_pushes_outward():
    # SignGD, one step: x = (1, 1, -1, -1), g = (1, -1, 1, -1) -> d = sign(g).
    # Coordinates 0 and 3 (d x > 0) decay; 1 and 2 (d x < 0) only step.
    p = torch.nn.Parameter(torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=torch.float64))
    opt = optimizers.create("signgd_cautious", [p], lr=0.1, weight_decay=0.5)
    p.grad = torch.tensor([1.0, -1.0, 1.0, -1.0], dtype=torch.float64)
    opt.step()
    shrunk = 1 - 0.1 * 0.5
    expected = torch.tensor([shrunk - 0.1, 1 + 0.1, -1 - 0.1, -shrunk + 0.1], dtype=torch.float64)
    torch.testing.assert_close(p.detach(), expected, rtol=0, atol=1e-15)


def _pytorch_optimizer():
    return pytest.importorskip("pytorch_optimizer")


def _library_cases():
    lib = _pytorch_optimizer()
    return {
        # ours (name, decay, hyper), the library's constructor, its group keys
        "lion-fixed": (("lion", "fixed", {"betas": (0.9, 0.99)}),
                       lambda ps, lr, wd: lib.Lion(ps, lr=lr, betas=(0.9, 0.99),
                                                   weight_decay=wd, fixed_decay=True,
                                                   foreach=False), {}),
        "adam-fixed": (("adamw", "fixed", {"betas": (0.9, 0.99)}),
                       lambda ps, lr, wd: lib.AdamC(ps, lr=lr, betas=(0.9, 0.99),
                                                    weight_decay=wd, fixed_decay=True,
                                                    foreach=False), {}),
        # AdamC's corrected decay applies to the groups marked normalized=True.
        "adam-corrected": (("adamw", "corrected", {"betas": (0.9, 0.99)}),
                           lambda ps, lr, wd: lib.AdamC(ps, lr=lr, betas=(0.9, 0.99),
                                                        weight_decay=wd, foreach=False),
                           {"normalized": True}),
    }


@pytest.mark.parametrize("case", ["lion-fixed", "adam-fixed", "adam-corrected"])
def test_matches_pytorch_optimizer(case):
    (name, style, hyper), make_library, group_keys = _library_cases()[case]
    wd = WD.get(style, 0.5)
    x0, grads = problem(seed=1)
    ours = [torch.nn.Parameter(x.clone()) for x in x0]
    theirs = [torch.nn.Parameter(x.clone()) for x in x0]
    opt = optimizers.create(name, ours, lr=LR_MAX, weight_decay=wd, decay=style, **hyper)
    lib = make_library([{"params": theirs, **group_keys}], LR_MAX, wd)
    for t in range(STEPS):
        for o in (opt, lib):
            o.param_groups[0]["lr"] = lr_at(t)
        for params in (ours, theirs):
            for p, g in zip(params, grads([p.detach() for p in params], t)):
                p.grad = g
        opt.step()
        lib.step()
    # The library's Adam adds eps to sqrt(v) before the bias correction (torch: after), and
    # 1e-15 inside the sqrt: the two agree to ~1e-8 relative, not to the last bit.
    tol = {"rtol": 1e-6, "atol": 1e-8} if name == "adamw" else {"rtol": 1e-9, "atol": 1e-12}
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.detach(), b.detach(), **tol)
