"""Image-classification tasks: loaders (fixtures with the hub schema and the shared CIFAR-10),
offline errors, models and decay masks, augmentation, and a few training steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import tasks
from tasks import image_data
from tasks.data import DataUnavailable
from tasks.image_augment import Augmentation, augment
from tasks.image_data import DATASETS, load_image_data
from tests.tasks.image_fixtures import class_images, shared_data_dir, write_image_parquet

IMAGE_TASKS = ("cifar10", "cifar100", "mnist", "fashion_mnist")


@pytest.fixture(scope="module")
def fixture_dirs(tmp_path_factory):
    """One tiny data directory per data set, hub layout (cifar100 one folder down)."""
    root = tmp_path_factory.mktemp("images")
    dirs = {}
    for name in IMAGE_TASKS:
        sub = "cifar100" if name == "cifar100" else None
        classes = 100 if name == "cifar100" else 10
        dirs[name] = write_image_parquet(root / name, name, num_classes=classes, subfolder=sub)
    return dirs


def _task(name, dirs, tmp_path, budget="smoke", **options):
    return tasks.create(name, budget, options=options, data_dir=str(dirs[name]),
                        cache_dir=str(tmp_path / "cache"))


# --- registry ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", IMAGE_TASKS)
def test_registered_with_budgets(name):
    cls = tasks.get(name)
    assert cls.name == name
    assert set(cls.budgets) == {"smoke", "cpu", "full"}
    assert (cls.selection_metric, cls.selection_mode) == ("val_accuracy", "max")
    assert cls.default_mask == "matrices"


# --- loaders -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", IMAGE_TASKS)
def test_loader_reads_hub_schema(name, fixture_dirs, tmp_path):
    data = load_image_data(name, str(fixture_dirs[name]), tmp_path)
    c, h, w = DATASETS[name].image_shape
    assert data.train.images.shape == (540, c, h, w) and data.train.images.dtype == torch.uint8
    assert data.val.images.shape == (60, c, h, w)  # a tenth of a small training split
    assert data.test.images.shape == (100, c, h, w)
    assert data.train.labels.dtype == torch.int64
    assert int(data.train.labels.max()) < DATASETS[name].num_classes
    # Validation is carved from train: together they are the whole training file.
    assert len(data.train) + len(data.val) == 600


def test_loader_decodes_exact_pixels_and_caches(fixture_dirs, tmp_path):
    first = load_image_data("mnist", str(fixture_dirs["mnist"]), tmp_path)
    cached = list((tmp_path / "images").glob("mnist-*.pt"))
    assert len(cached) == 1 and first.fingerprint in cached[0].name
    again = load_image_data("mnist", str(fixture_dirs["mnist"]), tmp_path)
    assert torch.equal(first.train.images, again.train.images)
    assert torch.equal(first.val.labels, again.val.labels)
    # PNG is lossless: the decoded test pixels are the ones written.
    labels = np.arange(100) % 10
    np.random.default_rng(11).shuffle(labels)
    expected = torch.from_numpy(class_images(labels, 1, 28, 1)).permute(0, 3, 1, 2)
    assert torch.equal(first.test.images, expected)
    assert first.test.labels.tolist() == labels.tolist()


def test_jpeg_fixture_and_fingerprint_follows_content(tmp_path):
    a = write_image_parquet(tmp_path / "a", "cifar10", n_train=100, n_test=20, fmt="JPEG")
    b = write_image_parquet(tmp_path / "b", "cifar10", n_train=100, n_test=21, fmt="JPEG")
    da = load_image_data("cifar10", str(a), tmp_path / "cache")
    db = load_image_data("cifar10", str(b), tmp_path / "cache")
    assert da.train.images.shape == (90, 3, 32, 32)
    assert da.fingerprint != db.fingerprint


def test_hub_path_through_datasets(fixture_dirs, tmp_path, monkeypatch):
    """The online path (`datasets.load_dataset(hub_id)`), with the hub replaced by the
    fixture's parquet files: same pixels as the local reader, cached by the hub fingerprint."""
    import datasets

    import tasks.image_data as image_data

    directory = fixture_dirs["cifar100"]
    files = {split: [str(p) for p in image_data.parquet_files(directory, split)]
             for split in ("train", "test")}
    calls, real_load = [], datasets.load_dataset

    def fake_load(path, split):
        calls.append((path, split))
        return real_load("parquet", data_files=files, split=split,
                                     cache_dir=str(tmp_path / "hf"))

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    monkeypatch.setattr(image_data, "hub_reachable", lambda: True)
    monkeypatch.delenv("WDBENCH_DATA_CIFAR100", raising=False)
    online = load_image_data("cifar100", None, tmp_path / "cache")
    assert calls == [("uoft-cs/cifar100", "train"), ("uoft-cs/cifar100", "test")]
    assert online.source == "hub:uoft-cs/cifar100"
    local = load_image_data("cifar100", str(directory), tmp_path / "cache")
    assert torch.equal(online.train.images, local.train.images)
    assert torch.equal(online.test.labels, local.test.labels)
    assert len(list((tmp_path / "cache" / "images").glob("cifar100-*.pt"))) == 2


def test_env_var_names_the_data_dir(fixture_dirs, tmp_path, monkeypatch):
    monkeypatch.setenv("WDBENCH_DATA_FASHION_MNIST", str(fixture_dirs["fashion_mnist"]))
    data = load_image_data("fashion_mnist", None, tmp_path)
    assert data.source == str(fixture_dirs["fashion_mnist"])


def test_missing_columns_is_a_clear_error(fixture_dirs, tmp_path):
    # MNIST files under the CIFAR-10 loader: 'img' is missing.
    with pytest.raises(DataUnavailable, match="lacks column"):
        load_image_data("cifar10", str(fixture_dirs["mnist"]), tmp_path)


def test_empty_data_dir_is_a_clear_error(tmp_path):
    with pytest.raises(DataUnavailable, match="train-\\*.parquet"):
        load_image_data("cifar10", str(tmp_path), tmp_path / "cache")


def test_offline_without_data_fails_fast_in_one_line(tmp_path, monkeypatch, no_hub):
    """No data dir and no hub (conftest sets HF_*_OFFLINE): one line, before any hub call."""
    monkeypatch.delenv("WDBENCH_DATA_CIFAR10", raising=False)
    task = tasks.create("cifar10", "smoke", cache_dir=str(tmp_path))
    with pytest.raises(DataUnavailable) as err:
        task.train_dataset()
    assert not any(tmp_path.iterdir())
    message = str(err.value)
    assert "\n" not in message and "--data-dir" in message and "WDBENCH_DATA_CIFAR10" in message


@pytest.mark.slow  # decodes all 60k JPEGs (~15 s)
def test_shared_cifar10(tmp_path, monkeypatch):
    """All 60k real images: decoded once (a few seconds), then from the cache."""
    directory = shared_data_dir() / "cifar10-jpeg"
    if not directory.is_dir():
        pytest.skip(f"shared CIFAR-10 not found at {directory} (set WDBENCH_SHARED_DATA)")
    first = load_image_data("cifar10", str(directory), tmp_path)
    assert first.train.images.shape == (45000, 3, 32, 32)
    assert first.val.images.shape == (5000, 3, 32, 32)
    assert first.test.images.shape == (10000, 3, 32, 32)
    # CIFAR-10 is balanced: 6000 images per class over train + test.
    counts = torch.bincount(torch.cat([first.train.labels, first.val.labels,
                                       first.test.labels]), minlength=10)
    assert counts.tolist() == [6000] * 10
    # The second load comes from the cache: decoding again would fail here.
    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr(image_data, "decode_images", no_decoding)
    again = load_image_data("cifar10", str(directory), tmp_path)
    assert torch.equal(first.val.images, again.val.images)
    assert first.fingerprint == again.fingerprint


# --- task surface ---------------------------------------------------------------------------
def test_options_and_subsets(fixture_dirs, tmp_path):
    task = _task("cifar10", fixture_dirs, tmp_path, train_size=100, val_size=20, test_size=30)
    assert len(task.train_dataset()) == 100
    assert len(task.eval_dataset("val")) == 20 and len(task.eval_dataset("test")) == 30
    with pytest.raises(ValueError, match="unknown cifar10 option"):
        _task("cifar10", fixture_dirs, tmp_path, depth=3)
    with pytest.raises(ValueError, match="task.model='vgg' .* one of resnet20, cnn, mlp"):
        _task("cifar10", fixture_dirs, tmp_path, model="vgg")
    with pytest.raises(ValueError, match="unknown split"):
        task.eval_dataset("train")


@pytest.mark.parametrize("model", ["resnet20", "cnn", "mlp"])
def test_models_same_seed_same_weights(model, fixture_dirs, tmp_path):
    task = _task("cifar10", fixture_dirs, tmp_path, model=model)
    a, b, c = task.build_model(0), task.build_model(0), task.build_model(1)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))
    logits = a(task.probe_batches()[0]["image"])
    assert logits.shape == (64, 10)


def test_resnet20_has_the_papers_size(fixture_dirs, tmp_path):
    task = _task("cifar10", fixture_dirs, tmp_path, model="resnet20", width=None)
    params = sum(p.numel() for p in task.build_model(0).parameters())
    assert 0.26e6 < params < 0.28e6  # He et al.: 0.27M


def test_decay_mask_policies(fixture_dirs, tmp_path):
    task = _task("cifar10", fixture_dirs, tmp_path, model="resnet20")
    model = task.build_model(0)
    modules = dict(model.named_modules())
    kinds = {name: type(modules[name.rsplit(".", 1)[0]]).__name__
             for name, _ in model.named_parameters()}
    matrices = task.decay_mask(model, "matrices")
    assert task.describe()["decay_mask"] == "matrices"
    assert "BatchNorm" in task.describe()["decayed"] and "not" in task.describe()["decayed"]
    for name, decayed in matrices.items():
        is_weight = name.endswith("weight") and kinds[name] in ("Conv2d", "Linear")
        assert decayed == is_weight, name
    assert any(k == "BatchNorm2d" for k in kinds.values())
    everything = task.decay_mask(model, "all")
    assert all(everything.values())
    assert task.describe()["decay_mask"] == "all"
    assert "included" in task.describe()["decayed"]
    assert not any(task.decay_mask(model, "none").values())


def test_describe_records_provenance(fixture_dirs, tmp_path):
    task = _task("mnist", fixture_dirs, tmp_path)
    info = task.describe()
    assert info["data_fingerprint"] == task.data_fingerprint != "none"
    assert info["sizes"] == {"train": 512, "val": 60, "test": 100}
    assert info["model"] == "mlp" and info["augmentation"] == "none"
    assert len(info["normalization"]["mean"]) == 1


def test_channel_stats_match_float_computation(fixture_dirs, tmp_path):
    task = _task("cifar10", fixture_dirs, tmp_path)
    mean, std = task.channel_stats()
    x = task.data.train.images.double() / 255
    assert torch.allclose(mean.double(), x.mean(dim=(0, 2, 3)), atol=1e-6)
    assert torch.allclose(std.double(), x.std(dim=(0, 2, 3), correction=0), atol=1e-5)


# --- augmentation ---------------------------------------------------------------------------
def test_augment_crop_and_flip_exact():
    images = torch.arange(2 * 3 * 4 * 5, dtype=torch.uint8).reshape(2, 3, 4, 5)
    zero, pad = torch.zeros(2, dtype=torch.long), 2
    centred = augment(images, zero + pad, zero + pad, torch.zeros(2, dtype=torch.bool), pad)
    assert torch.equal(centred, images)
    flipped = augment(images, zero + pad, zero + pad, torch.tensor([True, False]), pad)
    assert torch.equal(flipped[0], images[0].flip(-1)) and torch.equal(flipped[1], images[1])
    # Offset (0, 0): the image moves down-right by `pad`, zeros fill the top-left border.
    shifted = augment(images, zero, zero, torch.zeros(2, dtype=torch.bool), pad)
    assert torch.equal(shifted[:, :, pad:, pad:], images[:, :, :-pad, :-pad])
    assert shifted[:, :, :pad].eq(0).all() and shifted[:, :, :, :pad].eq(0).all()


def test_augmentation_is_deterministic_and_shardable():
    images = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    index = torch.randperm(100)[:16]
    a, b = Augmentation(100, seed=3), Augmentation(100, seed=3)
    out_a = a(images, index)
    assert out_a.shape == images.shape and out_a.dtype == torch.uint8
    # The same (seed, step, index) gives the same result, processed whole or in halves
    # (as two DDP processes would see the batch).
    halves = torch.cat([b(images[:8], index[:8]), _same_step(b)(images[8:], index[8:])])
    assert torch.equal(out_a, halves)
    assert int(a.step) == 1 and "step" in a.state_dict()
    # The next step, or another seed, draws differently.
    assert not torch.equal(a(images, index), out_a)
    assert not torch.equal(Augmentation(100, seed=4)(images, index), out_a)


def _same_step(aug: Augmentation) -> Augmentation:
    aug.step -= 1
    return aug


def test_model_augments_only_training_batches(fixture_dirs, tmp_path):
    task = _task("cifar10", fixture_dirs, tmp_path)
    batch = next(iter(DataLoader(task.train_dataset(), batch_size=32, collate_fn=task.collate)))
    model = task.build_model(0)
    model.eval()
    plain = model(batch["image"])
    assert torch.equal(model(batch["image"], batch["index"]), plain)  # eval mode: no aug
    model.train()
    step = int(model.augmentation.step)
    model(batch["image"], batch["index"])
    assert int(model.augmentation.step) == step + 1
    model(batch["image"])  # no indices (probe, eval batches): no augmentation, no step
    assert int(model.augmentation.step) == step + 1
    assert all("index" not in b for b in task.probe_batches())
    assert torch.equal(task.probe_batches()[0]["image"], task.probe_batches()[0]["image"])


# --- computation ----------------------------------------------------------------------------
def test_eval_outputs_per_example_and_summary(fixture_dirs, tmp_path):
    task = _task("cifar100", fixture_dirs, tmp_path)
    model = task.build_model(0).eval()
    loader = DataLoader(task.eval_dataset("val"), batch_size=25, collate_fn=task.collate)
    outs = [task.eval_outputs(model, batch) for batch in loader]
    merged = {k: torch.cat([o[k] for o in outs]) for k in outs[0]}
    assert merged["loss"].shape == merged["correct"].shape == (60,)
    summary = task.summarize("val", merged)
    assert set(summary) == {"val_loss", "val_accuracy"}
    assert summary["val_accuracy"] == pytest.approx(merged["correct"].mean().item())
    extra = task.extra_metrics(model)
    assert set(extra) == {"train_accuracy", "train_eval_loss"} and not model.training


@pytest.mark.parametrize("name", ["cifar10", "mnist"])
def test_a_few_steps_reduce_loss(name, fixture_dirs, tmp_path):
    task = _task(name, fixture_dirs, tmp_path)
    model = task.build_model(0)
    mask = task.decay_mask(model, task.default_mask)
    params = dict(model.named_parameters())
    opt = torch.optim.AdamW([
        {"params": [p for n, p in params.items() if mask[n]], "weight_decay": 0.01},
        {"params": [p for n, p in params.items() if not mask[n]], "weight_decay": 0.0}],
        lr=3e-3)
    loader = DataLoader(task.train_dataset(), batch_size=task.budget.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(0), drop_last=True,
                        collate_fn=task.collate)

    def val_loss() -> float:
        model.eval()
        with torch.no_grad():
            out = [task.eval_outputs(model, b) for b in
                   DataLoader(task.eval_dataset("val"), batch_size=64, collate_fn=task.collate)]
        model.train()
        return task.summarize("val", {"loss": torch.cat([o["loss"] for o in out]),
                                      "correct": torch.cat([o["correct"] for o in out])})[
            "val_loss"]

    before = val_loss()
    for _ in range(3):
        for batch in loader:
            opt.zero_grad()
            task.loss(model, batch).backward()
            opt.step()
    assert val_loss() < 0.7 * before
