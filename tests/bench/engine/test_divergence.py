"""Loss bookkeeping without a per-step host sync (bench/engine/divergence.py), alone and in the
runner, for one trial or T: the device-side flag runs on CPU here exactly as it would on a
GPU."""

import json
import math

import pytest
import torch

import bench.engine.runner
from bench.engine.divergence import CHECK_EVERY, DeviceWatch, HostWatch, params_finite, watch_for
from bench.engine.runner import run_trial
from bench.trial.config import Trial
from tests.bench.engine.test_runner import toy
from tests.bench.helpers import REPO

LOSSES = [1.0, 2.0, math.inf, math.nan, 3.0]


@pytest.mark.parametrize("make", [lambda: DeviceWatch(torch.device("cpu")), HostWatch])
def test_watch_keeps_the_first_non_finite_step_and_the_loss_sum(make):
    watch = make()
    for step, value in enumerate(LOSSES[:2], start=1):
        watch.add(step, torch.tensor(value))
    assert watch.diverged_at() == [None]
    assert watch.drain() == ([3.0], 2)
    assert watch.drain() == ([0.0], 0)
    for step, value in enumerate(LOSSES[2:], start=3):
        watch.add(step, torch.tensor(value))
    assert watch.diverged_at() == [3]  # the inf, not the later NaN


@pytest.mark.parametrize("make", [lambda: DeviceWatch(torch.device("cpu"), 3),
                                  lambda: HostWatch(3)])
def test_a_watch_of_t_trials_keeps_each_ones_first_bad_step_and_sum(make):
    watch = make()
    watch.add(1, torch.tensor([1.0, 2.0, 3.0]))
    watch.add(2, torch.tensor([1.0, math.inf, 3.0]))
    watch.add(3, torch.tensor([math.nan, math.nan, 3.0]))
    assert watch.diverged_at() == [3, 2, None]
    sums, count = watch.drain()
    assert count == 3 and sums[2] == 9.0 and math.isnan(sums[1]) and math.isnan(sums[0])
    assert watch.drain() == ([0.0, 0.0, 0.0], 0)
    assert watch.diverged_at() == [3, 2, None]  # a divergence stays


def test_device_watch_reads_only_every_check_every_steps_and_cpu_reads_every_step():
    assert watch_for(torch.device("cpu")).check_every == 1
    assert DeviceWatch(torch.device("cpu")).check_every == CHECK_EVERY > 1


def test_params_finite_is_one_check_over_the_model():
    model = torch.nn.Linear(3, 2)
    assert params_finite(model)
    with torch.no_grad():
        model.bias[1] = math.nan
    assert not params_finite(model)


def test_device_watch_in_the_runner_records_the_exact_diverged_step(tmp_path, monkeypatch):
    # As in test_runner: the toy loss turns infinite at the 11th optimizer step. The device
    # flag is read at the next evaluation (step 20), which must still name step 11.
    monkeypatch.setattr(bench.engine.runner, "watch_for", DeviceWatch)
    record = run_trial(toy(settings={"task.explode_at": 15}), tmp_path, show_progress=False)
    assert record["status"] == "diverged"
    assert record["diverged_at"] == 11
    assert [p["step"] for p in record["curve"]] == [0, 10]


def test_device_watch_and_host_watch_give_the_same_record(tmp_path, monkeypatch):
    host = run_trial(toy(), tmp_path / "host", show_progress=False)
    monkeypatch.setattr(bench.engine.runner, "watch_for", DeviceWatch)
    device = run_trial(toy(), tmp_path / "device", show_progress=False)
    assert [p["train_loss"] for p in host["curve"][1:]] == pytest.approx(
        [p["train_loss"] for p in device["curve"][1:]], rel=1e-12)
    assert host["final"]["val_loss"] == device["final"]["val_loss"]


def test_compile_true_is_recorded_and_trains_the_same_model(tmp_path):
    eager = run_trial(toy(), tmp_path / "eager", show_progress=False)
    compiled = run_trial(toy(settings={"compile": "true"}), tmp_path / "compiled",
                         show_progress=False)
    assert compiled["status"] == "done", compiled["error"]
    assert compiled["config"]["compile"] is True and eager["config"]["compile"] is False
    assert compiled["id"] != eager["id"]
    assert compiled["final"]["val_loss"] == pytest.approx(eager["final"]["val_loss"],
                                                          rel=1e-5)


def test_compile_default_leaves_earlier_trial_ids_unchanged():
    record = json.loads((REPO / "tests/bench/fixtures/record_v1.json").read_text())
    assert Trial.from_dict(record["config"]).id == record["id"]


def test_compile_setting_must_be_a_boolean():
    from bench.errors import UsageError

    with pytest.raises(UsageError, match="compile=.maybe. is not allowed; use true or false"):
        toy(settings={"compile": "maybe"})
