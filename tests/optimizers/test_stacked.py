"""Stacked groups (optimizers/stacked.py): each member equals the same optimizer run alone.

Every member of a T=3 group (own lr, λ and seed-initialised float64 params) is stepped on the
same random gradients as the single-trial optimizer built like bench/engine/context.py::build does
(`optimizers.create` with a decayed and an undecayed group, LambdaLR for the schedule), with a
multiplier that changes every step, for 100 steps.
"""

from __future__ import annotations

import copy
import io
import math

import pytest
import torch

import optimizers
from optimizers.builtins import GRID
from optimizers.stacked import stacked_optimizer

T, STEPS = 3, 50
SHAPES = {"layer.weight": (5, 4), "layer.bias": (4,), "scale": (6,)}
# 4,686 elements a member: Adam steps member by member through torch's fused kernel
# (optimizers/stacked_fused.py), where SHAPES' 30 take the stacked ops.
BIG = {"layer.weight": (64, 72), "layer.bias": (72,), "scale": (6,)}
DECAYED = {"layer.weight": True, "layer.bias": False, "scale": True}
LRS = (1e-3, 3e-3, 2e-2)
WDS = (0.1, 0.0, 0.5)
SUBMISSIONS = ["torch.optim:AdamW", "tests.bench.submitted_optimizer:SignDescentW"]
BUILTINS = [row.name for row in GRID] + ["muon", "muon_l2"]
STYLES = ["coupled", "decoupled", "independent", "fixed", "corrected", "cautious", "none"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One thread, as the runner steps a trial: torch's fused CPU kernels otherwise spend
    milliseconds a call waking a thread pool on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _multiplier(t: int) -> float:
    return 0.5 * (1.0 + math.cos(math.pi * t / STEPS))


def _data(seed: int = 0, steps: int = STEPS, dtype=torch.float64, shapes=SHAPES):
    gen = torch.Generator().manual_seed(seed)
    init = {k: torch.randn(T, *s, generator=gen, dtype=dtype) for k, s in shapes.items()}
    grads = [{k: torch.randn(T, *s, generator=gen, dtype=dtype) for k, s in shapes.items()}
             for _ in range(steps)]
    return init, grads


def _stacked(name, options, init, **kwargs):
    params = {k: v.clone().requires_grad_() for k, v in init.items()}
    return params, stacked_optimizer(name, params, DECAYED, LRS, WDS, options, **kwargs)


def _run_stacked(opt, params, grads, start: int = 0, stop: int = STEPS) -> None:
    for t in range(start, stop):
        opt.set_lr_multiplier(_multiplier(t))
        for k, p in params.items():
            p.grad = grads[t][k].clone()
        opt.step()
        opt.zero_grad()


def _run_alone(name, options, init, grads, member: int) -> dict[str, torch.Tensor]:
    """bench/engine/context.py::build's optimizer and schedule for one trial."""
    named = {k: v[member].clone().requires_grad_() for k, v in init.items()}
    by_name = optimizers.spec(name).norm_rule is not None
    groups = [{"params": [(n, p) if by_name else p for n, p in named.items()
                          if DECAYED[n] is decay], "weight_decay": wd}
              for decay, wd in ((True, WDS[member]), (False, 0.0))]
    opt = optimizers.create(name, groups, lr=LRS[member], weight_decay=WDS[member], **options)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, _multiplier)
    for step_grads in grads:
        for k, p in named.items():
            p.grad = step_grads[k][member].clone()
        opt.step()
        schedule.step()
    return {k: p.detach() for k, p in named.items()}


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


def _is_exact(name: str, options: dict) -> bool:
    """Where the stacked ops are the single-trial ops: the views path; sign directions (the
    step ±η_t rounds the same fused or not); Adam's torch loops outside cautious decay.
    Elsewhere `p + (-η_t) d` rounds twice where torch's add(alpha=) fuses (≤ 1e-10 asserted)."""
    spec = optimizers.spec(name)
    decay = options.get("decay", spec.decay_style.value)
    if name in SUBMISSIONS or spec.direction in ("muon", "sign", "lion"):
        return True
    return spec.direction == "adam" and options.get("impl") in ("loop", "foreach") \
        and decay != "cautious"


CASES = ([(name, {}) for name in BUILTINS + SUBMISSIONS]
         + [(name, {"decay": style}) for name in ("adamw", "signgd_wd", "lion", "sgdw")
            for style in STYLES]
         + [("signgd_wd", {"momentum": 0.9}), ("signgd_cautious", {"momentum": 0.9}),
            ("sgdw", {"nesterov": True}), ("sgdw", {"momentum": 0.0}),
            ("adamw", {"impl": "loop"}), ("adamw", {"impl": "foreach"}),
            ("adam_l2", {"impl": "loop"}), ("adamw_cautious", {"impl": "loop"}),
            ("lion", {"impl": "foreach"}), ("signgd_l2", {"impl": "foreach"}),
            ("sgd_l2", {"impl": "foreach"}), ("adamw", {"betas": (0.95, 0.9), "eps": 1e-6})])


@pytest.mark.parametrize("name,options", CASES,
                         ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in o.items())}"
                              for n, o in CASES])
def test_member_equals_alone(name, options):
    init, grads = _data()
    params, opt = _stacked(name, options, init)
    assert opt.native == (name not in SUBMISSIONS and not name.startswith("muon"))
    _run_stacked(opt, params, grads)
    exact = _is_exact(name, options)
    for member in range(T):
        alone = _run_alone(name, options, init, grads, member)
        for k, b in alone.items():
            a = params[k].detach()[member]
            assert not torch.equal(a, init[k][member]), "the member never moved"
            if exact:
                assert torch.equal(a, b), (member, k, _relative(a, b))
            else:
                assert _relative(a, b) <= 1e-10, (member, k, _relative(a, b))


def test_every_builtin_is_covered():
    names = {n for n in optimizers.available() if optimizers.spec(n).source == "builtin"}
    assert names == set(BUILTINS)


FUSED_CASES = ([("adamw", {}), ("adam_l2", {}), ("adamw", {"betas": (0.95, 0.9), "eps": 1e-6})]
               + [("adamw", {"decay": style}) for style in STYLES if style != "cautious"])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name,options", FUSED_CASES,
                         ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in o.items())}"
                              for n, o in FUSED_CASES])
def test_member_calls_are_bit_for_bit(name, options, dtype):
    """Adam big enough for member calls: each member is its lone fused run, bit for bit, in
    float32 as in float64; small groups keep the stacked ops."""
    init, grads = _data(steps=30, dtype=dtype, shapes=BIG)
    params, opt = _stacked(name, options, init)
    assert opt.member_calls and not _stacked(name, options, _data(steps=0)[0])[1].member_calls
    _run_stacked(opt, params, grads, stop=30)
    for member in range(T):
        alone = _run_alone(name, options, init, grads[:30], member)
        for k, b in alone.items():
            a = params[k].detach()[member]
            assert not torch.equal(a, init[k][member]), "the member never moved"
            assert torch.equal(a, b), (member, k, _relative(a, b))


def test_cautious_and_unfused_adam_keep_the_stacked_ops():
    init, _ = _data(steps=0, shapes=BIG)
    for name, options in (("adamw_cautious", {}), ("adamw", {"impl": "loop"}),
                          ("adamw", {"impl": "foreach"})):
        assert not _stacked(name, options, init)[1].member_calls, (name, options)


@pytest.mark.parametrize("shapes", [SHAPES, BIG], ids=["small", "big"])
@pytest.mark.parametrize("name", ["adamw", "signgd_wd", "lion", "sgdw", "muon",
                                  SUBMISSIONS[0]])
def test_frozen_member_never_changes(name, shapes):
    """Member 1 diverges at step 10 (NaN gradients from then on) and is frozen: its params
    stay as they were, the others step bit for bit as in a group without the NaN."""
    init, grads = _data(steps=30, shapes=shapes)
    healthy_params, healthy = _stacked(name, {}, init)
    _run_stacked(healthy, healthy_params, grads, stop=30)
    poisoned = copy.deepcopy(grads)
    for step_grads in poisoned[10:]:
        for g in step_grads.values():
            g[1] = float("nan")
        step_grads["layer.weight"][1, 0, 0] = float("inf")
    params, opt = _stacked(name, {}, init)
    _run_stacked(opt, params, poisoned, stop=10)
    at_freeze = {k: p.detach()[1].clone() for k, p in params.items()}
    opt.freeze(1)
    _run_stacked(opt, params, poisoned, start=10, stop=30)
    for k, p in params.items():
        assert torch.equal(p.detach()[1], at_freeze[k])
        for member in (0, 2):
            assert torch.equal(p.detach()[member], healthy_params[k].detach()[member])


@pytest.mark.parametrize("shapes", [SHAPES, BIG], ids=["small", "big"])
@pytest.mark.parametrize("name", ["adamw", "adamw_cautious", "lion", "sgdw", "muon",
                                  SUBMISSIONS[0]])
def test_resume_mid_way_equals_uninterrupted(name, shapes):
    init, grads = _data(steps=40, shapes=shapes)
    whole_params, whole = _stacked(name, {}, init)
    _run_stacked(whole, whole_params, grads, stop=20)
    whole.freeze(2)
    _run_stacked(whole, whole_params, grads, start=20, stop=40)

    params, opt = _stacked(name, {}, init)
    _run_stacked(opt, params, grads, stop=20)
    opt.freeze(2)
    buffer = io.BytesIO()
    torch.save({"params": {k: p.detach() for k, p in params.items()},
                "optimizer": opt.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)  # as a group checkpoint is read
    resumed_params, resumed = _stacked(name, {}, saved["params"])
    resumed.load_state_dict(saved["optimizer"])
    assert resumed.frozen == {2}
    _run_stacked(resumed, resumed_params, grads, start=20, stop=40)
    for k, p in resumed_params.items():
        assert torch.equal(p.detach(), whole_params[k].detach())


@pytest.mark.parametrize("name", ["signgd_wd", "adamw", SUBMISSIONS[1]])
def test_only_decayed_tensors_decay(name):
    """With zero gradients only decay moves a tensor: the decayed ones shrink by (1 - η λ_i)
    per step, member by member; the undecayed ones never move."""
    init, _ = _data(steps=0)
    params, opt = _stacked(name, {}, init)
    for _ in range(5):
        for p in params.values():
            p.grad = torch.zeros_like(p)
        opt.step()
    for k, p in params.items():
        for member in range(T):
            got, start = p.detach()[member], init[k][member]
            if DECAYED[k]:
                shrink = 1.0 - LRS[member] * WDS[member]
                torch.testing.assert_close(got, start * shrink ** 5, rtol=1e-14, atol=0)
            else:
                assert torch.equal(got, start)


def test_float32_members_agree():
    init, grads = _data(steps=30, dtype=torch.float32)
    for name in ("adamw", "signgd_wd"):
        params, opt = _stacked(name, {}, init)
        _run_stacked(opt, params, grads, stop=30)
        for member in range(T):
            alone = _run_alone(name, {}, init, grads[:30], member)
            for k, b in alone.items():
                assert params[k].dtype == torch.float32
                assert _relative(params[k].detach()[member], b) <= 1e-6


def test_views_step_the_members_own_parameters():
    init, grads = _data(steps=3)
    params = {k: v.clone().requires_grad_() for k, v in init.items()}

    class Member(torch.nn.Module):
        def __init__(self, i: int) -> None:
            super().__init__()
            self.layer = torch.nn.Module()
            self.layer.weight = torch.nn.Parameter(params["layer.weight"].detach()[i])
            self.layer.bias = torch.nn.Parameter(params["layer.bias"].detach()[i])
            self.scale = torch.nn.Parameter(params["scale"].detach()[i])

    members = [Member(i) for i in range(T)]
    opt = stacked_optimizer("muon", params, DECAYED, LRS, WDS, members=members)
    inner = opt.member_optimizer(0)
    assert any(q is members[0].layer.weight for g in inner.param_groups for q in g["params"])
    assert inner.tensor_geometry(members[0].layer.weight)[0] == "spectral"
    _run_stacked(opt, params, grads, stop=3)
    assert torch.equal(members[2].scale.detach(), params["scale"].detach()[2])
    assert not torch.equal(members[2].scale.detach(), init["scale"][2])
    wrong = [Member(0) for _ in range(T)]
    with pytest.raises(ValueError, match="does not alias"):
        stacked_optimizer("muon", params, DECAYED, LRS, WDS, members=wrong)


@pytest.mark.parametrize("kwargs,message", [
    ({"lrs": (1e-3, 1e-3)}, "one weight decay per lr"),
    ({"lrs": (1e-3, 0.0, 1e-3)}, "lr"),
    ({"weight_decays": (0.1, -1.0, 0.1)}, "weight_decay"),
    ({"decayed": {"scale": True}}, "exactly the stacked params"),
])
def test_bad_groups_are_refused(kwargs, message):
    init, _ = _data(steps=0)
    args = {**dict(params=init, decayed=DECAYED, lrs=LRS, weight_decays=WDS), **kwargs}
    with pytest.raises(ValueError, match=message):
        stacked_optimizer("adamw", **args)


def test_state_dict_of_another_group_is_refused():
    init, _ = _data(steps=0)
    _, native = _stacked("adamw", {}, init)
    _, views = _stacked("muon", {}, init)
    with pytest.raises(ValueError, match="native group"):
        views.load_state_dict(native.state_dict())


def test_microbenchmark_reports_both_paths():
    from optimizers.stacked_perf import microbenchmark

    result = microbenchmark("lion", size=4, dim=3, steps=2)
    assert result["native"] is True and result["size"] == 4
    assert all(result[k] > 0 for k in ("stacked_s", "views_s", "separate_s", "speedup"))
    assert microbenchmark(SUBMISSIONS[1], size=2, dim=3, steps=1)["native"] is False


@pytest.mark.parametrize("name,options,style", [("adamw", {"decay": "fixed"}, "fixed"),
                                                ("lion_l2", {}, "coupled"),
                                                ("muon", {}, "decoupled"),
                                                (SUBMISSIONS[0], {}, None)])
def test_defaults_name_the_style_and_lrs_follow_the_multiplier(name, options, style):
    init, _ = _data(steps=0)
    _, opt = _stacked(name, options, init)
    assert opt.defaults.get("decay") == style
    opt.set_lr_multiplier(0.25)
    assert opt.current_lrs() == [lr * 0.25 for lr in LRS]


@pytest.mark.parametrize("style", STYLES)
def test_host_terms_are_the_tensor_terms_bit_for_bit(style):
    """A CPU group's per-step terms from numpy equal those from torch's float64 ops: every
    style, dtype and rank, members without decay, a multiplier at 0 (the end of a cosine)."""
    params = {"w": torch.zeros(T, 2, 3, requires_grad=True)}
    # Numbers whose products round differently in another order (a reordering fails).
    opt = stacked_optimizer("adamw", params, {"w": True}, (1.3e-3, 3.7e-3, 2.9e-2),
                            (0.113, 0.0, 0.571), {"decay": style})
    for multiplier in (1.0, 0.3719, 1.7e-3, 0.0):
        opt.set_lr_multiplier(multiplier)
        for decayed in (True, False):
            for p in (torch.zeros(T, 4), torch.zeros(T, 2, 3, dtype=torch.float64),
                      torch.zeros(T, 1, 2, 3)):
                terms = []
                for flag in (True, False):
                    opt._terms.clear()  # computed anew each way, not read from the cache
                    terms.append(opt._terms_for(decayed, p, host=flag))
                host, device = terms
                assert host.cautious == device.cautious
                for field in ("lr", "neg_lr", "coupled", "shrink"):
                    a, b = getattr(host, field), getattr(device, field)
                    assert (a is None) == (b is None), (field, multiplier, decayed)
                    if a is not None:
                        # bit for bit, NaN where both are (fixed decay at η_t = 0: λ/0)
                        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)


def test_member_calls_benchmark_times_both_ways():
    from optimizers.stacked_perf import member_calls_benchmark

    small, big = member_calls_benchmark(2, 8, steps=1), member_calls_benchmark(2, 4096, steps=1)
    assert not small["member_calls"] and big["member_calls"]
    assert all(r["ops_s"] > 0 and r["members_s"] > 0 for r in (small, big))


@pytest.mark.parametrize("name,options", [("lion", {}), ("signgd_l2", {}),
                                          ("adamw", {"impl": "loop"})])
def test_feedback_run_is_bit_for_bit_where_the_ops_match(name, options):
    """With gradients that depend on the iterate (the quadratic), the exact cases stay exact."""
    from optimizers.stacked_perf import endpoint_difference

    assert endpoint_difference(name, steps=200, options=options) == 0.0
