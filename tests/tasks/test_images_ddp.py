"""An image task under DDP with 2 CPU processes gives the single-process numbers for the same
global batch: batches are sharded, augmentation is keyed by example index, and validation and
test outputs are gathered per example."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tasks.image_fixtures import write_image_parquet

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(prefix: list[str], data: Path, out: Path, cache: Path) -> dict:
    # BatchNorm normalizes with per-process batch statistics under DDP (as in any DDP run
    # without SyncBatchNorm), so the exact comparison uses the normalization-free variant.
    cmd = [*prefix, "-m", "bench", "run", "--task", "cifar10", "--optimizer", "adamw",
           "--budget", "smoke", "--data-dir", str(data), "--out", str(out), "--json",
           "--quiet", "--set", "task.norm=none", "--set", "lr=3e-3"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "ACCELERATE_USE_CPU": "true", "WDBENCH_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


pytestmark = [pytest.mark.ddp, pytest.mark.e2e]


def test_ddp_two_cpu_processes_match_single_process(tmp_path):
    pytest.importorskip("accelerate")
    data = write_image_parquet(tmp_path / "data", "cifar10")
    cache = tmp_path / "cache"
    single = _run([sys.executable], data, tmp_path / "single", cache)
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
              "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
              "--dynamo_backend", "no", "--main_process_port", str(_free_port())]
    ddp = _run(launch, data, tmp_path / "ddp", cache)
    assert ddp["env"]["num_processes"] == 2 and single["env"]["num_processes"] == 1
    assert ddp["status"] == single["status"] == "done"
    for key in ("train_loss", "val_loss", "test_loss", "train_eval_loss", "linf_ratio"):
        assert ddp["final"][key] == pytest.approx(single["final"][key], rel=1e-5), key
    for key in ("val_accuracy", "test_accuracy", "train_accuracy"):
        assert ddp["final"][key] == single["final"][key], key
    assert [p["val_loss"] for p in ddp["curve"]] == pytest.approx(
        [p["val_loss"] for p in single["curve"]], rel=1e-5)
    # The run learned something (the fixture's classes are separable by colour).
    assert single["final"]["val_loss"] < single["curve"][0]["val_loss"]
