"""Tiny image data sets in the hub's parquet layout (encoded PNG/JPEG in an {bytes, path} struct
column, int labels, `huggingface` schema metadata), learnable: each class has its own colour."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

# name -> (image column, label columns, channels, side, format)
LAYOUTS = {
    "cifar10": ("img", ("label",), 3, 32, "PNG"),
    "cifar100": ("img", ("fine_label", "coarse_label"), 3, 32, "PNG"),
    "mnist": ("image", ("label",), 1, 28, "PNG"),
    "fashion_mnist": ("image", ("label",), 1, 28, "PNG"),
}


def class_images(labels: np.ndarray, channels: int, side: int, seed: int) -> np.ndarray:
    """uint8 (N, side, side, channels): a per-class base colour (the same in every split)
    plus noise drawn from `seed`."""
    palette = np.random.default_rng(1234).integers(30, 226, size=(100, channels))
    noise = np.random.default_rng(seed).normal(0, 25, size=(len(labels), side, side, channels))
    return np.clip(palette[labels][:, None, None, :] + noise, 0, 255).astype(np.uint8)


def encode(image: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buf, format=fmt)
    return buf.getvalue()


def write_image_parquet(directory: Path, name: str, n_train: int = 600, n_test: int = 100,
                        num_classes: int = 10, fmt: str | None = None,
                        subfolder: str | None = None) -> Path:
    """Write `train-00000-of-00001.parquet` and `test-...` for data set `name`'s schema under
    `directory` (or `directory/subfolder`, as hub repos do). Returns `directory`."""
    image_col, label_cols, channels, side, default_fmt = LAYOUTS[name]
    out = directory / subfolder if subfolder else directory
    out.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", n_train, 0), ("test", n_test, 1)):
        labels = np.arange(n) % num_classes
        np.random.default_rng(seed + 10).shuffle(labels)
        images = class_images(labels, channels, side, seed)
        blobs = [encode(img, fmt or default_fmt) for img in images]
        struct = pa.StructArray.from_arrays(
            [pa.array(blobs, pa.binary()), pa.array([f"{i}.png" for i in range(n)])],
            names=["bytes", "path"])
        columns = {image_col: struct}
        features = {image_col: {"_type": "Image"}}
        for col in label_cols:
            columns[col] = pa.array(labels.astype(np.int64))
            features[col] = {"names": [str(c) for c in range(num_classes)],
                             "_type": "ClassLabel"}
        meta = {"huggingface": json.dumps({"info": {"features": features}})}
        table = pa.table(columns).replace_schema_metadata(meta)
        pq.write_table(table, out / f"{split}-00000-of-00001.parquet")
    return directory


def shared_data_dir() -> Path:
    """../shared/data next to the repository, or $WDBENCH_SHARED_DATA."""
    env = os.environ.get("WDBENCH_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"
