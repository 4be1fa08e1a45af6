"""Image data sets: hub ids and column names in one table, a loader for local directories in
the hub's parquet layout, decoding once into uint8 tensors cached by data fingerprint, and a
fixed train/validation split.

Online, `datasets.load_dataset(hub_id)` fetches the data; offline, a directory holding
`train-*.parquet` and `test-*.parquet` (top level or one folder down, as in the hub repos) is
read with pyarrow. Either way the images are decoded with PIL once and saved with torch.save
under the cache directory, so later runs load tensors in about a second.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tasks.data import (
    DataUnavailable,
    default_cache_dir,
    env_var,
    fingerprint_files,
    hub_reachable,
    resolve_data_dir,
)

CACHE_VERSION = 1  # bump when the cached layout changes


@dataclass(frozen=True)
class ImageDataset:
    """Where a data set lives and how its columns are named."""

    hub_id: str
    image_column: str
    label_column: str
    num_classes: int
    image_shape: tuple[int, int, int]  # (C, H, W)
    val_size: int  # carved from the training split with VAL_SEED


DATASETS: dict[str, ImageDataset] = {
    "cifar10": ImageDataset("uoft-cs/cifar10", "img", "label", 10, (3, 32, 32), 5000),
    "cifar100": ImageDataset("uoft-cs/cifar100", "img", "fine_label", 100, (3, 32, 32), 5000),
    "mnist": ImageDataset("ylecun/mnist", "image", "label", 10, (1, 28, 28), 5000),
    "fashion_mnist": ImageDataset("zalando-datasets/fashion_mnist", "image", "label", 10,
                                  (1, 28, 28), 5000),
}

VAL_SEED = 20190101  # fixed: every trial, optimizer and seed sees the same validation set


@dataclass
class Split:
    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor  # int64 (N,)

    def __len__(self) -> int:
        return len(self.labels)

    def head(self, n: int | None) -> Split:
        return self if n is None or n >= len(self) else Split(self.images[:n], self.labels[:n])


@dataclass
class ImageData:
    train: Split
    val: Split
    test: Split
    fingerprint: str
    source: str  # 'hub:<id>' or the local directory


def parquet_files(directory: Path, split: str) -> list[Path]:
    """`{split}-*.parquet` at the top of `directory` or one folder down (hub layout)."""
    return sorted(directory.glob(f"{split}-*.parquet")) or sorted(
        directory.glob(f"*/{split}-*.parquet"))


def decode_images(blobs: list[bytes | str], shape: tuple[int, int, int]) -> torch.Tensor:
    """PNG/JPEG bytes (or file paths) -> uint8 (N, C, H, W). About 4 s for 50k CIFAR JPEGs on
    one core, so a process pool is not worth its start-up cost."""
    from PIL import Image

    channels, height, width = shape
    mode = "RGB" if channels == 3 else "L"
    out = np.empty((len(blobs), height, width, channels), dtype=np.uint8)
    for i, blob in enumerate(blobs):
        with Image.open(io.BytesIO(blob) if isinstance(blob, bytes) else blob) as img:
            arr = np.asarray(img.convert(mode))
        if arr.shape[:2] != (height, width):
            raise ValueError(f"image {i} is {arr.shape[1]}x{arr.shape[0]}, "
                             f"expected {width}x{height}")
        out[i] = arr.reshape(height, width, channels)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def _split_from_table(table, spec: ImageDataset, where: str) -> Split:
    """An arrow table with the hub schema (image struct {bytes, path}, int label) -> Split."""
    missing = {spec.image_column, spec.label_column} - set(table.column_names)
    if missing:
        raise DataUnavailable(f"{where} lacks column(s) {', '.join(sorted(missing))} (has "
                              f"{', '.join(table.column_names)}); expected the {spec.hub_id} "
                              "schema")
    column = table.column(spec.image_column).combine_chunks()
    # Hub rows carry the encoded bytes; a row without them names a file instead.
    blobs = [blob if blob is not None else path for blob, path in
             zip(column.field("bytes").to_pylist(), column.field("path").to_pylist())]
    labels = torch.tensor(table.column(spec.label_column).to_pylist(), dtype=torch.int64)
    return Split(decode_images(blobs, spec.image_shape), labels)


def _read_local(directory: Path, spec: ImageDataset) -> dict[str, Split]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    splits = {}
    for split in ("train", "test"):
        files = parquet_files(directory, split)
        table = pa.concat_tables(pq.read_table(f) for f in files)
        splits[split] = _split_from_table(table, spec, f"{files[0].parent}/{split}-*.parquet")
    return splits


def _hub_splits(spec: ImageDataset) -> tuple[dict, str]:
    """The hub's train and test splits (images left undecoded) and their fingerprint."""
    import datasets

    splits = {}
    for split in ("train", "test"):
        ds = datasets.load_dataset(spec.hub_id, split=split)
        splits[split] = ds.cast_column(spec.image_column, datasets.Image(decode=False))
    fingerprint = hashlib.sha256("".join(ds._fingerprint for ds in splits.values()).encode())
    return splits, fingerprint.hexdigest()[:16]


def _decode_hub(spec: ImageDataset, hub_splits: dict) -> dict[str, Split]:
    return {split: _split_from_table(ds.with_format("arrow")[:], spec, spec.hub_id)
            for split, ds in hub_splits.items()}


def _carve_val(train: Split, val_size: int) -> tuple[Split, Split]:
    """A fixed random `val_size` examples (at most a tenth: small copies such as test
    fixtures keep most of their training split) become the validation split."""
    val_size = min(val_size, len(train) // 10)
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(VAL_SEED))
    val_idx, train_idx = order[:val_size], order[val_size:]
    return (Split(train.images[train_idx], train.labels[train_idx]),
            Split(train.images[val_idx], train.labels[val_idx]))


def load_image_data(name: str, data_dir: str | None = None,
                    cache_dir: str | Path | None = None) -> ImageData:
    """Train (minus validation), validation and test splits of data set `name`, decoded once
    and cached as tensors keyed by the fingerprint of the raw data."""
    spec = DATASETS[name]
    directory = resolve_data_dir(name, data_dir)
    hub_splits = None
    if directory is not None:
        train_files = parquet_files(directory, "train")
        test_files = parquet_files(directory, "test")
        if not train_files or not test_files:
            raise DataUnavailable(
                f"{directory} has no train-*.parquet and test-*.parquet files; point --data-dir "
                f"(or {env_var(name)}) at a copy of the {spec.hub_id} parquet files")
        fingerprint = fingerprint_files(train_files + test_files, extra=name)
        source = str(directory)
    elif not hub_reachable():
        raise DataUnavailable(
            f"no local {name} data and the Hugging Face hub is unreachable; pass --data-dir DIR "
            f"or set {env_var(name)} to a directory with the {spec.hub_id} parquet files")
    else:
        hub_splits, fingerprint = _hub_splits(spec)
        source = f"hub:{spec.hub_id}"
    cache_root = Path(cache_dir) if cache_dir else default_cache_dir()
    cache = cache_root / "images" / f"{name}-{fingerprint}-v{CACHE_VERSION}.pt"
    splits = _load_cache(cache)
    if splits is None:
        splits = _read_local(directory, spec) if directory else _decode_hub(spec, hub_splits)
        _save_cache(cache, splits)
    train, val = _carve_val(splits["train"], spec.val_size)
    return ImageData(train, val, splits["test"], fingerprint, source)


def _load_cache(path: Path) -> dict[str, Split] | None:
    if not path.exists():
        return None
    blob = torch.load(path, weights_only=True)
    return {k: Split(blob[f"{k}_images"], blob[f"{k}_labels"]) for k in ("train", "test")}


def _save_cache(path: Path, splits: dict[str, Split]) -> None:
    """Write to a temporary name, then rename: concurrent workers never read half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {f"{k}_{f}": getattr(s, f) for k, s in splits.items() for f in ("images", "labels")}
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save(blob, tmp)
    tmp.replace(path)
