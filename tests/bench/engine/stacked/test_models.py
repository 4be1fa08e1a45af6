"""Stacked models: each member's loss and gradient equal its lone trial's, members alias the
stacked tensors, members start as build_model(seed), and what cannot stack says why."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import tasks
from bench.engine.stacked.models import NotStackable, batch_to, stack_batches, stack_models
from tests.tasks.image_fixtures import write_image_parquet

F64_RTOL = 1e-10
F32_RTOL = 1e-5  # float32: vmap / batched matmuls may sum in another order than the lone ops


def _rel(got: torch.Tensor, want: torch.Tensor) -> float:
    scale = want.detach().abs().max().clamp_min(1e-30)
    return float((got.detach() - want.detach()).abs().max() / scale)


def _batches(task, n_trials: int, dtype: torch.dtype | None = None) -> list:
    """A different training batch per trial (like each trial's own sampler), small."""
    ds = task.train_dataset()
    size = min(task.budget.batch_size, 4, len(ds) // n_trials)
    out = []
    for i in range(n_trials):
        batch = task.collate([ds[j] for j in range(i * size, (i + 1) * size)])
        out.append(_cast(batch, dtype))
    return out


def _cast(batch, dtype):
    if dtype is None:
        return batch
    if isinstance(batch, torch.Tensor):
        return batch.to(dtype) if batch.is_floating_point() else batch
    return {k: _cast(v, dtype) for k, v in batch.items()}


def assert_members_equal_lone_runs(task, seeds, dtype=torch.float64, rtol=F64_RTOL,
                                   strategy=None, device="cpu"):
    """(a) stacked losses = each lone loss; (b) sum().backward() puts each lone gradient in
    its slice; (c) so does `backward(batch)`, the group's training step (closed form, or the
    loop's member-by-member backward). rtol=0: bit for bit."""
    stacked = stack_models(task, seeds, device, dtype, strategy=strategy)
    batches = [batch_to(b, device) for b in _batches(task, len(seeds), dtype)]
    losses = stacked.losses(stack_batches(batches))
    assert losses.shape == (len(seeds),)
    losses.sum().backward()
    autograd = {n: p.grad for n, p in stacked.params.items()}
    for p in stacked.params.values():
        p.grad = None
    step_losses = stacked.backward(stack_batches(batches))
    stepped = {n: p.grad for n, p in stacked.params.items()}
    for i, seed in enumerate(seeds):
        lone = task.build_model(seed).to(device=device, dtype=dtype)
        loss = task.loss(lone, batches[i])
        loss.backward()
        for got_loss, got in ((losses, autograd), (step_losses, stepped)):
            assert _rel(got_loss[i], loss) <= rtol, (i, float(got_loss[i]), float(loss))
            for name, p in lone.named_parameters():
                assert _rel(got[name][i], p.grad) <= rtol, (i, name)
                if rtol == 0:
                    assert torch.equal(got[name][i], p.grad), (i, name)
                    assert torch.equal(got_loss[i], loss.detach()), i
    # The seeds differ, so do the members: the comparison above is not vacuous.
    assert len({float(v) for v in losses.detach()}) == len(seeds)
    return stacked


def assert_aliases_and_init(task, seeds, stacked=None) -> None:
    """(c) an in-place update of params[name][i] is member i's (and only its), and back;
    (d) member i and slice i start exactly as build_model(seed_i) (`stacked`: float32, not
    stepped yet; built here if None)."""
    stacked = stacked or stack_models(task, seeds, "cpu")
    for i, seed in enumerate(seeds):
        fresh = dict(task.build_model(seed).named_parameters())
        member = dict(stacked.members[i].named_parameters())
        assert set(member) == set(fresh) == set(stacked.params)
        for name, p in fresh.items():
            assert torch.equal(member[name], p) and torch.equal(stacked.params[name][i], p)
    name = next(iter(stacked.params))
    before = [m.get_parameter(name).detach().clone() for m in stacked.members]
    with torch.no_grad():
        stacked.params[name][1].add_(1.0)
    assert torch.equal(stacked.members[1].get_parameter(name), before[1] + 1.0)
    for j in (0, 2)[:len(seeds) - 1]:
        assert torch.equal(stacked.members[j].get_parameter(name), before[j])
    with torch.no_grad():
        stacked.members[0].get_parameter(name).mul_(0.0)
    assert not stacked.params[name][0].any() and stacked.params[name][1].abs().sum() > 0
    assert all(p.is_leaf and p.requires_grad for p in stacked.params.values())


# --- native: quadratics -------------------------------------------------------------------
QUADRATICS = [
    ("quadratic", {"kind": "diagonal"}),
    ("quadratic", {"kind": "dense"}),
    ("quadratic", {"kind": "diagonal", "noise": 0.5}),
    ("quadratic", {"kind": "dense", "noise": 0.5}),
    ("matrix_quadratic", {"kind": "isotropic"}),
    ("matrix_quadratic", {"kind": "anisotropic", "rows": 6, "cols": 4}),
]


@pytest.mark.parametrize(("name", "options"), QUADRATICS)
def test_native_members_equal_lone_runs_float64(name, options):
    task = tasks.create(name, "smoke", options)
    assert task.stacking == "native"
    assert_members_equal_lone_runs(task, [0, 1, 5])


@pytest.mark.parametrize(("name", "options"), QUADRATICS[1::2])
def test_native_members_equal_lone_runs_float32(name, options):
    assert_members_equal_lone_runs(tasks.create(name, "smoke", options), [3, 4],
                                   dtype=torch.float32, rtol=F32_RTOL)


@pytest.mark.parametrize(("name", "options"), QUADRATICS[3:5])
def test_native_aliases_and_init(name, options):
    task = tasks.create(name, "smoke", options)
    assert_aliases_and_init(task, [0, 1, 2])
    assert stack_models(task, [0, 1], "cpu").mode == "native"


@pytest.mark.parametrize(("name", "options"), QUADRATICS[2:5])
def test_native_tasks_stack_loop_bitwise_and_vmap(name, options):
    task = tasks.create(name, "smoke", options)
    assert_members_equal_lone_runs(task, [0, 1], dtype=torch.float32, rtol=0, strategy="loop")
    assert_members_equal_lone_runs(task, [0, 1], strategy="vmap")


def test_noisy_quadratic_uses_each_trials_own_batch():
    task = tasks.create("quadratic", "smoke", {"noise": 1.0})
    stacked = stack_models(task, [0, 0], "cpu")  # same x: only the batches differ
    losses = stacked.losses(stack_batches(_batches(task, 2)))
    assert losses[0] != losses[1]


# --- func: MLP, CNN without BatchNorm, the GPT --------------------------------------------
@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory) -> Path:
    return write_image_parquet(tmp_path_factory.mktemp("mnist"), "mnist", n_train=120,
                               n_test=20)


def _mnist(mnist_dir: Path, tmp_path: Path, **options):
    opts = {"train_size": 64, "val_size": 8, "test_size": 8, **options}
    return tasks.create("mnist", "smoke", opts, data_dir=str(mnist_dir),
                        cache_dir=str(tmp_path / "cache"))


def test_mlp_members_equal_lone_runs(mnist_dir, tmp_path):
    task = _mnist(mnist_dir, tmp_path, width=16)
    assert task.options["model"] == "mlp" and task.stacking == "func"
    assert_members_equal_lone_runs(task, [0, 1, 2], strategy="vmap")
    assert_members_equal_lone_runs(task, [0, 1], dtype=torch.float32, rtol=F32_RTOL,
                                   strategy="vmap")
    assert_members_equal_lone_runs(task, [0, 1, 2], dtype=torch.float32, rtol=0,
                                   strategy="loop")
    assert_aliases_and_init(task, [0, 1, 2])
    # No strategy: the faster on this machine (test_choice.py)
    assert stack_models(task, [0, 1], "cpu", cache_dir=str(tmp_path)).mode in ("loop", "vmap")
    assert stack_models(task, [0, 1], "cpu", strategy="vmap").buffers["mean"].shape[0] == 2


@pytest.mark.parametrize("strategy", ["vmap", "loop"])
def test_cnn_without_batchnorm_stacks(mnist_dir, tmp_path, strategy):
    task = _mnist(mnist_dir, tmp_path, model="cnn", width=2, norm="none")
    assert_members_equal_lone_runs(task, [0, 1], strategy=strategy)


def test_batchnorm_cnn_is_not_stackable(mnist_dir, tmp_path):
    task = _mnist(mnist_dir, tmp_path, model="cnn", width=2, norm="batch")
    with pytest.raises(NotStackable, match="BatchNorm"):
        stack_models(task, [0, 1], "cpu")


def test_augmentation_is_not_stackable(mnist_dir, tmp_path):
    with pytest.raises(NotStackable, match="augment"):
        stack_models(_mnist(mnist_dir, tmp_path, width=8, augment=True), [0, 1], "cpu")


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    """A few KB of WikiText-shaped raw text (offline: no hub, no shared data needed)."""
    root = tmp_path_factory.mktemp("wikitext")
    words = ("the lobster is a species of marine crustacean found in the eastern atlantic "
             "ocean , mediterranean sea and parts of the black sea . it may grow to a length "
             "of 60 cm and a mass of 6 kilograms .").split()
    for part, n_lines in (("train", 40), ("valid", 8), ("test", 8)):
        lines = [" = Heading = \n", " \n"]
        for i in range(n_lines):
            lines.append(" " + " ".join(words[(i + j) % len(words)] for j in range(25)) + " \n")
        (root / f"wiki.{part}.raw").write_text("".join(lines), encoding="utf-8")
    return root


def _gpt(corpus_dir: Path, tmp_path: Path, **options):
    # The smoke budget's architecture, shorter sequences: dropout stays at its 0.0. One
    # tokenizer cache for the module (training the BPE is most of the setup).
    return tasks.create("wikitext", "smoke", {"seq_len": 16, **options},
                        data_dir=str(corpus_dir), cache_dir=str(corpus_dir / "cache"))


def test_smoke_gpt_members_equal_lone_runs(corpus_dir, tmp_path):
    task = _gpt(corpus_dir, tmp_path)
    assert task.options["dropout"] == 0.0 and task.stacking == "func"
    assert_members_equal_lone_runs(task, [0, 1], strategy="vmap")
    stacked = assert_members_equal_lone_runs(task, [0, 1], dtype=torch.float32, rtol=0,
                                             strategy="loop")
    member = stacked.members[1]
    assert member.lm_head.weight is member.transformer.wte.weight  # still tied, once
    assert "lm_head.weight" not in stacked.params
    assert_aliases_and_init(task, [0, 1], stacked)


def test_gpt_with_dropout_is_not_stackable(corpus_dir, tmp_path):
    with pytest.raises(NotStackable, match="dropout"):
        stack_models(_gpt(corpus_dir, tmp_path, dropout=0.1), [0, 1], "cpu")


@pytest.mark.cuda
def test_cuda_vmap_members_equal_lone_runs(mnist_dir, corpus_dir, tmp_path):
    """vmap (the batchable linear too) on the GPU, float64, and float32 within the stated
    bound; the timed default picks one of the exact or bounded ways."""
    for task in (tasks.create("quadratic", "smoke", {"noise": 0.5}),
                 _mnist(mnist_dir, tmp_path, width=16), _gpt(corpus_dir, tmp_path)):
        strategy = "vmap" if task.stacking == "func" else None
        assert stack_models(task, [0, 1], "cuda", cache_dir=str(tmp_path)).mode in (
            ("loop", "vmap") if strategy else ("native",))
        assert_members_equal_lone_runs(task, [0, 1, 2], device="cuda", strategy=strategy)
        assert_members_equal_lone_runs(task, [0, 1], dtype=torch.float32, rtol=F32_RTOL,
                                       device="cuda", strategy=strategy)


# --- refusals and batches -----------------------------------------------------------------
def test_task_without_stacking_is_refused():
    task = tasks.create("quadratic", "smoke")
    task.stacking = "none"
    with pytest.raises(NotStackable, match="does not support stacked trials"):
        stack_models(task, [0, 1], "cpu")


def test_wrong_native_losses_are_caught_at_build():
    task = tasks.create("quadratic", "smoke")
    task.stacked_losses = lambda params, buffers, batch: params["x"].sum(dim=-1)
    with pytest.raises(NotStackable, match="differs from its lone model"):
        stack_models(task, [0, 1], "cpu")


def test_unknown_strategy_is_an_error(mnist_dir, tmp_path):
    with pytest.raises(ValueError, match="unknown stacking strategy"):
        stack_models(tasks.create("quadratic", "smoke"), [0], "cpu", strategy="threads")
    with pytest.raises(ValueError, match="no native stacked losses"):
        stack_models(_mnist(mnist_dir, tmp_path, width=8), [0], "cpu", strategy="native")


def test_stack_batches_nests_and_checks():
    a = {"image": torch.zeros(2, 3), "label": torch.tensor([1, 2]), "pair": (torch.ones(2),)}
    b = {"image": torch.ones(2, 3), "label": torch.tensor([3, 4]), "pair": (torch.zeros(2),)}
    out = stack_batches([a, b])
    assert out["image"].shape == (2, 2, 3) and torch.equal(out["label"][1], b["label"])
    assert isinstance(out["pair"], tuple) and out["pair"][0].shape == (2, 2)
    with pytest.raises(ValueError, match="different keys"):
        stack_batches([a, {"image": a["image"]}])
    with pytest.raises(TypeError, match="cannot stack a str"):
        stack_batches(["x", "y"])



@pytest.mark.parametrize("task_name,options", [
    ("quadratic", {"kind": "diagonal"}), ("quadratic", {"kind": "dense"}),
    ("quadratic", {"kind": "dense", "noise": 0.5}),
    ("matrix_quadratic", {"kind": "isotropic"}), ("matrix_quadratic", {"kind": "anisotropic"}),
])
def test_closed_form_gradients_equal_autograd_and_the_lone_runs(task_name, options):
    """`backward` (the group loop's step) uses the task's stacked_gradients, not autograd:
    the same losses and each member's lone gradient, float64 <= 1e-10 relative."""
    task = tasks.create(task_name, "smoke", options)
    seeds = [0, 1, 2]
    stacked = assert_members_equal_lone_runs(task, seeds)  # autograd: .grad filled
    assert stacked.grad_fn is not None
    want = {n: p.grad.clone() for n, p in stacked.params.items()}
    batch = stack_batches([batch_to(b, "cpu") for b in _batches(task, len(seeds),
                                                                torch.float64)])
    want_losses = stacked.losses(batch).detach()
    for p in stacked.params.values():
        p.grad = None
    losses = stacked.backward(batch)
    assert not losses.requires_grad  # no autograd graph was built
    assert _rel(losses, want_losses) <= F64_RTOL
    for name, p in stacked.params.items():
        assert p.grad is not None and _rel(p.grad, want[name]) <= F64_RTOL, name
        if options.get("kind") == "diagonal":  # h * d: autograd's 0.5 h d + 0.5 h d exactly
            assert torch.equal(p.grad, want[name]), name
