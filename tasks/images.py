"""Image classification on CIFAR-10/100, MNIST and Fashion-MNIST: the setting of Loshchilov &
Hutter's AdamW study. One task class; each data set is a subclass naming its row in
`tasks.image_data.DATASETS` and its budgets.

Task options (`--set task.NAME=value`): model (resnet20 | cnn | mlp), width, norm (batch |
none), train_size / val_size / test_size (subsets; null = all), augment (true | false).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from tasks.base import Budget, Task
from tasks.image_augment import Augmentation
from tasks.image_data import DATASETS, ImageData, Split, load_image_data
from tasks.image_models import MODEL_NAMES, ImageClassifier, build_network
from tasks.options import OneOf, TaskOption, at_least

OPTIONS = (
    TaskOption("model", "cnn", str, "network", OneOf(MODEL_NAMES)),
    TaskOption("width", None, int, "base channel/hidden width (null: the model's default)",
               at_least(1), nullable=True),
    TaskOption("norm", "batch", str, "normalization layers", OneOf(("batch", "none"))),
    TaskOption("augment", True, bool, "random crop (pad 4) + horizontal flip"),
    TaskOption("train_size", None, int, "training subset (null: all)", at_least(1),
               nullable=True),
    TaskOption("val_size", None, int, "validation subset (null: all)", at_least(1),
               nullable=True),
    TaskOption("test_size", None, int, "test subset (null: all)", at_least(1), nullable=True),
)

# What each mask policy decays in these models (recorded in describe()).
MASK_MEANING = {
    "matrices": "conv and linear weights; BatchNorm scales/shifts and biases not decayed",
    "all": "every parameter, BatchNorm scales/shifts and biases included",
    "none": "nothing",
}


def _budgets(**by_name: tuple[int, int, int, int, int, dict[str, Any]]) -> Mapping[str, Budget]:
    """name=(steps, batch, eval_every, eval_batch, probe_batches, options) -> Budget table."""
    return MappingProxyType({
        name: Budget(name, steps, batch, every, eval_batch, probes, MappingProxyType(opts))
        for name, (steps, batch, every, eval_batch, probes, opts) in by_name.items()})


CIFAR_BUDGETS = _budgets(
    smoke=(8, 64, 4, 128, 2, {"model": "cnn", "width": 8, "train_size": 512,
                              "val_size": 256, "test_size": 256}),
    # Sized for ~20 s of one core per trial (200 steps at ~60 ms, 3 evaluations of 2000
    # validation images, 10k test images once), so a 128-trial suite fits 30 min on 2 cores.
    cpu=(200, 128, 100, 500, 2, {"model": "cnn", "width": 16, "train_size": 10000,
                                 "val_size": 2000}),
    # He et al.: 64k iterations at batch 128 on a 45k/5k split (about 180 epochs).
    full=(64000, 128, 2000, 1000, 4, {"model": "resnet20"}),
)

MNIST_BUDGETS = _budgets(
    smoke=(8, 64, 4, 128, 2, {"model": "mlp", "width": 64, "augment": False,
                              "train_size": 512, "val_size": 256, "test_size": 256}),
    cpu=(1000, 128, 250, 1000, 2, {"model": "mlp", "width": 256, "augment": False}),
    full=(8600, 128, 430, 1000, 4, {"model": "cnn", "width": 32, "augment": False}),
)


class ImageExamples(Dataset):
    """uint8 images and labels as a map-style dataset (DataLoader sharding works on it).
    Training examples also carry their index, which keys their augmentation."""

    def __init__(self, split: Split, with_index: bool) -> None:
        self.split = split
        self.with_index = with_index

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = {"image": self.split.images[i], "label": self.split.labels[i]}
        if self.with_index:
            item["index"] = torch.tensor(i)
        return item


class ImageClassificationTask(Task):
    dataset: ClassVar[str]
    selection_metric = "val_accuracy"
    selection_mode = "max"
    declared_options = OPTIONS
    # torch.func over task.loss; models with BatchNorm are refused by bench/engine/stacked.
    stacking = "func"

    def __init__(self, budget: Budget, options: Mapping[str, Any] | None = None,
                 data_dir: str | None = None, cache_dir: str | None = None) -> None:
        super().__init__(budget, options, data_dir, cache_dir)
        self.spec = DATASETS[self.dataset]
        self._data: ImageData | None = None
        self._stats: tuple[torch.Tensor, torch.Tensor] | None = None
        self._probes: list[Any] | None = None
        self._mask_policy: str | None = None

    # --- data -----------------------------------------------------------------------------
    @property
    def data(self) -> ImageData:
        """Loaded on first use (decoded once, then from the tensor cache), subsets applied."""
        if self._data is None:
            full = load_image_data(self.dataset, self.data_dir, self.cache_dir)
            opts = self.options
            self._data = ImageData(full.train.head(opts["train_size"]),
                                   full.val.head(opts["val_size"]),
                                   full.test.head(opts["test_size"]), full.fingerprint,
                                   full.source)
        return self._data

    @property
    def data_fingerprint(self) -> str:
        return self.data.fingerprint

    def channel_stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel mean and std of the training images (pixel scale 0..1), exact from
        256-bin histograms (cheap on uint8)."""
        if self._stats is None:
            self._stats = self._channel_stats(self.data.train.images)
        return self._stats

    @staticmethod
    def _channel_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        levels = torch.arange(256, dtype=torch.float64) / 255
        means, stds = [], []
        for c in range(images.shape[1]):
            counts = torch.bincount(images[:, c].reshape(-1).long(), minlength=256).double()
            p = counts / counts.sum()
            mean = (p * levels).sum()
            means.append(mean)
            stds.append(((p * (levels - mean) ** 2).sum()).sqrt().clamp_min(1e-3))
        return torch.stack(means).float(), torch.stack(stds).float()

    def describe(self) -> dict[str, Any]:
        data = self.data
        mean, std = self.channel_stats()
        return {
            **super().describe(),
            "dataset": self.dataset,
            "source": data.source,
            "hub_id": self.spec.hub_id,
            "sizes": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
            "model": self.options["model"],
            "normalization": {"mean": mean.tolist(), "std": std.tolist()},
            "augmentation": "random crop (pad 4) + horizontal flip" if self.options["augment"]
            else "none",
            "decay_mask": self._mask_policy or self.default_mask,
            "decayed": MASK_MEANING[self._mask_policy or self.default_mask],
        }

    # --- model and data -------------------------------------------------------------------
    def build_model(self, seed: int) -> torch.nn.Module:
        opts = self.options
        mean, std = self.channel_stats()
        augmentation = (Augmentation(len(self.data.train), pad=4, flip=True, seed=seed)
                        if opts["augment"] else None)
        # A private RNG stream: the same seed gives the same weights, whatever ran before.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = build_network(opts["model"], self.spec.image_shape, self.spec.num_classes,
                                opts["width"], opts["norm"])
        return ImageClassifier(net, mean, std, augmentation)

    def stacking_obstacle(self) -> str | None:
        if self.options["augment"]:
            return ("augmentation draws each trial's crops and flips on the host from its own "
                    "seed and step, which torch.func cannot stack; the trials run one by one "
                    "(task.augment=false stacks them)")
        return None

    def train_dataset(self) -> Dataset:
        return ImageExamples(self.data.train, with_index=True)

    def eval_dataset(self, split: str) -> Dataset:
        if split not in ("val", "test"):
            raise ValueError(f"unknown split {split!r}; use val or test")
        return ImageExamples(getattr(self.data, split), with_index=False)

    def gather_train(self, indices: torch.Tensor) -> dict[str, torch.Tensor]:
        """`collate` of the training examples at `indices` (a stacked group's (T, B)) in one
        index op a field: the same tensors as T x B `__getitem__` calls and a collate
        (bench/engine/stacked/batches.py; measured 2.6 s of a 16-member MLP grid's 12)."""
        train = self.data.train
        return {"image": train.images[indices], "label": train.labels[indices],
                "index": indices.contiguous()}

    def probe_batches(self) -> list[Any]:
        """Fixed training batches without augmentation (no index -> the model does not
        augment), so the probe gradient is the same at every evaluation."""
        if self._probes is None:
            self._probes = [{k: v for k, v in batch.items() if k != "index"}
                            for batch in super().probe_batches()]
        return self._probes

    def decay_mask(self, model: torch.nn.Module, policy: str) -> dict[str, bool]:
        mask = super().decay_mask(model, policy)
        self._mask_policy = policy
        return mask

    # --- computation ----------------------------------------------------------------------
    def loss(self, model: torch.nn.Module, batch: Any) -> torch.Tensor:
        logits = model(batch["image"], batch.get("index"))
        return F.cross_entropy(logits.float(), batch["label"])

    def eval_outputs(self, model: torch.nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        logits = model(batch["image"]).float()
        return {"loss": F.cross_entropy(logits, batch["label"], reduction="none"),
                "correct": (logits.argmax(dim=1) == batch["label"]).float()}

    def summarize(self, split: str, outputs: dict[str, torch.Tensor]) -> dict[str, float]:
        return {f"{split}_loss": outputs["loss"].double().mean().item(),
                f"{split}_accuracy": outputs["correct"].double().mean().item()}

    def extra_metrics(self, model: torch.nn.Module, weight_decay: float = 0.0,
                      radius: float | None = None) -> dict[str, float]:
        """train_accuracy and train_eval_loss: on the probe batches (fixed training examples,
        no augmentation, eval mode), the training side of the generalization gap."""
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        outputs: dict[str, list[torch.Tensor]] = {"loss": [], "correct": []}
        with torch.no_grad():
            for batch in self.probe_batches():
                out = self.eval_outputs(model, {k: v.to(device) for k, v in batch.items()})
                for k, v in out.items():
                    outputs[k].append(v)
        model.train(was_training)
        summary = self.summarize("train", {k: torch.cat(v) for k, v in outputs.items()})
        return {"train_accuracy": summary["train_accuracy"],
                "train_eval_loss": summary["train_loss"]}


class Cifar10Task(ImageClassificationTask):
    name = "cifar10"
    dataset = "cifar10"
    budgets = CIFAR_BUDGETS
    # cpu: the 128-trial suite's best settings reached 44-46% (docs/results/images.md);
    # full: ResNet-20's published 91.25% test accuracy (He et al. 2016), rounded down.
    targets = MappingProxyType({"cpu": 0.40, "full": 0.91})


class Cifar100Task(ImageClassificationTask):
    name = "cifar100"
    dataset = "cifar100"
    budgets = CIFAR_BUDGETS


class MnistTask(ImageClassificationTask):
    name = "mnist"
    dataset = "mnist"
    budgets = MNIST_BUDGETS
    # Chosen, not measured here (MNIST is not available offline): an MLP passes 95% within
    # a few epochs, a small CNN 99%.
    targets = MappingProxyType({"cpu": 0.95, "full": 0.99})


class FashionMnistTask(ImageClassificationTask):
    name = "fashion_mnist"
    dataset = "fashion_mnist"
    budgets = MNIST_BUDGETS
