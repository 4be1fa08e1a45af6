"""The runner on a GPU (marked `cuda`: skipped where torch sees none; `make gpu-check` runs
them): device placement, the device-side divergence flag, bf16 autocast, the compiled
optimizer steps inside a trial, and checkpoint resume."""


import pytest
import torch

from bench.engine.divergence import DeviceWatch, watch_for
from bench.engine.runner import run_trial
from tests.bench.engine.test_runner import kill_and_resume, toy

pytestmark = pytest.mark.cuda


def test_trial_runs_on_the_gpu(tmp_path):
    record = run_trial(toy(), tmp_path, show_progress=False)
    assert record["status"] == "done", record["error"]
    assert "cuda" in str(record["env"]["device"])
    assert isinstance(watch_for(torch.device("cuda")), DeviceWatch)


def test_divergence_on_the_gpu_records_the_exact_step(tmp_path):
    record = run_trial(toy(settings={"task.explode_at": 15}), tmp_path, show_progress=False)
    assert record["status"] == "diverged" and record["diverged_at"] == 11


def test_bf16_autocast_trial_finishes_near_fp32(tmp_path):
    fp32 = run_trial(toy(), tmp_path / "fp32", show_progress=False)
    bf16 = run_trial(toy(mixed_precision="bf16"), tmp_path / "bf16", show_progress=False)
    assert bf16["status"] == "done", bf16["error"]
    assert bf16["final"]["val_loss"] == pytest.approx(fp32["final"]["val_loss"], rel=0.05)


# the compiled steps (sign, Lion, heavy ball) and Muon's torch ops (no fused path of its own)
@pytest.mark.parametrize("optimizer", ["signgd_wd", "lion", "sgdw", "muon"])
def test_builtins_train_a_trial_on_the_gpu(tmp_path, optimizer):
    record = run_trial(toy(optimizer=optimizer, lr=1e-3), tmp_path, show_progress=False)
    assert record["status"] == "done", record["error"]


def test_compiled_model_trial_on_the_gpu(tmp_path):
    record = run_trial(toy(settings={"compile": True}), tmp_path, show_progress=False)
    assert record["status"] == "done", record["error"]


def test_killed_gpu_trial_resumes_from_checkpoint(tmp_path):
    reference, resumed, _ = kill_and_resume(toy(settings={"checkpoint_every": 10}), tmp_path)
    assert resumed["final"]["val_loss"] == pytest.approx(reference["final"]["val_loss"],
                                                         rel=1e-6)
