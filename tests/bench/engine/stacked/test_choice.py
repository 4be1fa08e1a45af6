"""The timed choice between vmap and loop (bench/engine/stacked/choice.py), the batched linear
vmap runs (linear.py), and the loop's training step (func.loop_backward)."""

from __future__ import annotations

import json
import time

import pytest
import torch
from torch import nn

import tasks
from bench.engine.stacked import choice
from bench.engine.stacked.linear import BatchableLinear, batchable
from bench.engine.stacked.models import batch_to, stack_batches, stack_models
from tests.bench.engine.stacked.test_models import _batches, _mnist, mnist_dir  # noqa: F401

CPU = torch.device("cpu")


def burn(seconds: float):
    """A step that spends `seconds` of CPU time (the choice times CPU time on a CPU)."""
    def step(batch):
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass
    return step


def test_the_faster_strategy_is_chosen_and_remembered(tmp_path):
    task = tasks.create("quadratic", "smoke")
    params = {"x": torch.zeros(2, 3)}
    batch = torch.zeros(2, 1, 3)
    steps = {"loop": burn(0.02), "vmap": burn(0.002)}
    assert choice.choose(task, steps, params, batch, CPU, tmp_path) == "vmap"
    saved = json.loads((tmp_path / choice.CACHE_FILE).read_text())
    (entry,) = saved.values()
    assert entry["strategy"] == "vmap" and entry["seconds"]["loop"] > entry["seconds"]["vmap"]
    # Known now: the slower steps are not timed again.
    assert choice.choose(task, {"loop": burn(0.0), "vmap": burn(1.0)}, params, batch, CPU,
                         tmp_path) == "vmap"
    # Another batch shape is another key.
    assert choice.choose(task, {"loop": burn(0.002), "vmap": burn(0.02)}, params,
                         torch.zeros(2, 4, 3), CPU, tmp_path) == "loop"
    assert len(json.loads((tmp_path / choice.CACHE_FILE).read_text())) == 2


def test_a_tie_goes_to_the_exact_loop_and_a_failing_strategy_is_left_out(tmp_path):
    task = tasks.create("quadratic", "smoke")
    params, batch = {"x": torch.zeros(2, 3)}, torch.zeros(2, 1, 3)
    assert choice.choose(task, {"loop": burn(0.01), "vmap": burn(0.0099)}, params, batch,
                         CPU, None) == "loop"

    def failing(batch):
        raise RuntimeError("out of memory")

    assert choice.choose(task, {"loop": burn(0.01), "vmap": failing}, params, batch, CPU,
                         None) == "loop"
    with pytest.raises(RuntimeError, match=r"no stacking strategy .*vmap: RuntimeError: out of"):
        choice.time_steps({"vmap": failing}, params, batch, CPU)


def test_stack_models_times_once_per_key(mnist_dir, tmp_path, monkeypatch):  # noqa: F811
    task = _mnist(mnist_dir, tmp_path, width=16)
    first = stack_models(task, [0, 1], "cpu", cache_dir=str(tmp_path / "c"))
    (entry,) = json.loads((tmp_path / "c" / choice.CACHE_FILE).read_text()).values()
    assert first.mode == entry["strategy"] and set(entry["seconds"]) == {"loop", "vmap"}

    def untimed(*args, **kwargs):
        raise AssertionError("timed again")

    monkeypatch.setattr(choice, "time_steps", untimed)
    assert stack_models(task, [3, 4], "cpu", cache_dir=str(tmp_path / "c")).mode == first.mode
    with pytest.raises(AssertionError, match="timed again"):
        stack_models(task, [0, 1, 2], "cpu", cache_dir=str(tmp_path / "c"))  # another T


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5,), (4, 5), (2, 3, 5)])
def test_batchable_linear_under_vmap_equals_each_member_in_float64(shape, bias):
    """Any leading dims, with or without bias: output and the three gradients of each member
    equal its own F.linear's to 1e-12, and the weight's gradient comes out in its layout."""
    gen = torch.Generator().manual_seed(0)
    n = 3
    layer = batchable(nn.Sequential(nn.Linear(5, 4, bias=bias))).double()
    assert type(layer[0]) is BatchableLinear
    w = torch.randn(n, 4, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn(n, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    x = torch.randn(n, *shape, generator=gen, dtype=torch.float64, requires_grad=True)
    tensors = {"0.weight": w, **({"0.bias": b} if bias else {})}

    def one(t, xi):
        return torch.func.functional_call(layer, t, (xi,))

    out = torch.func.vmap(one)(tensors, x)
    (out.sin().sum()).backward()
    assert w.grad.is_contiguous()
    for i in range(n):
        wi, bi = w.detach()[i].clone().requires_grad_(), b.detach()[i].clone().requires_grad_()
        xi = x.detach()[i].clone().requires_grad_()
        want = nn.functional.linear(xi, wi, bi if bias else None)
        want.sin().sum().backward()
        torch.testing.assert_close(out[i], want, rtol=1e-12, atol=0)
        torch.testing.assert_close(w.grad[i], wi.grad, rtol=1e-12, atol=0)
        torch.testing.assert_close(x.grad[i], xi.grad, rtol=1e-12, atol=0)
        if bias:
            torch.testing.assert_close(b.grad[i], bi.grad, rtol=1e-12, atol=0)


def test_batchable_linear_outside_vmap_is_linear():
    layer = batchable(nn.Linear(5, 4))
    x = torch.randn(2, 5, requires_grad=True)
    want = nn.functional.linear(x, layer.weight, layer.bias)
    assert torch.equal(layer(x), want)
    layer(x).sum().backward()
    grad = layer.weight.grad.clone()
    layer.weight.grad = None
    want.sum().backward()
    torch.testing.assert_close(grad, layer.weight.grad)


def test_the_loop_step_reuses_its_gradient_buffers(mnist_dir, tmp_path):  # noqa: F811
    task = _mnist(mnist_dir, tmp_path, width=16)
    stacked = stack_models(task, [0, 1, 2], "cpu", strategy="loop")
    batch = stack_batches([batch_to(b, "cpu") for b in _batches(task, 3)])
    stacked.backward(batch)
    first = {n: (p.grad.data_ptr(), p.grad.clone()) for n, p in stacked.params.items()}
    for p in stacked.params.values():
        p.grad = None  # as the optimizer's zero_grad
    stacked.backward(batch)
    for name, p in stacked.params.items():
        assert p.grad.data_ptr() == first[name][0] and torch.equal(p.grad, first[name][1])
    assert all(q.grad is None for m in stacked.members for q in m.parameters())
