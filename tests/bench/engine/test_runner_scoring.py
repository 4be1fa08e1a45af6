"""The runner's AlgoPerf-style target and its experiment trackers, on the toy task."""

import math

import pytest

from bench.engine.runner import run_trial
from bench.ledger.store import flatten
from bench.measures.scoring import crossing
from tests.bench.engine.test_runner import toy
from tests.bench.toy_task import ToyTask


@pytest.fixture()
def target_of(monkeypatch):
    def set_target(value):
        monkeypatch.setattr(ToyTask, "targets", {"smoke": value})
    return set_target


def test_record_carries_steps_and_time_to_a_reachable_target(tmp_path, target_of):
    reference = run_trial(toy(), tmp_path / "ref", show_progress=False)
    losses = [p["val_loss"] for p in reference["curve"]]
    target = (losses[1] + losses[2]) / 2  # crossed between the 2nd and 3rd evaluation
    target_of(target)
    record = run_trial(toy(), tmp_path / "scored", show_progress=False)
    steps = [p["step"] for p in record["curve"]]
    assert record["target"]["metric"] == "val_loss" and record["target"]["reached"] is True
    found = record["target"]["steps_to_target"]
    assert found == pytest.approx(crossing(steps, losses, target))
    assert steps[1] < found < steps[2]
    clock = record["timing"]["eval_train_s"]
    assert len(clock) == len(steps) and clock == sorted(clock)
    assert clock[1] <= record["timing"]["time_to_target_s"] <= clock[2]
    row = flatten(record)
    assert row["steps_to_target"] == record["target"]["steps_to_target"]
    assert row["target"] == target and row["target_reached"] is True


def test_an_unreached_target_is_infinite_in_the_flat_table(tmp_path, target_of):
    target_of(-1.0)  # a loss below zero is never reached
    record = run_trial(toy(), tmp_path, show_progress=False)
    assert record["target"]["reached"] is False
    row = flatten(record)
    assert row["steps_to_target"] == math.inf and row["time_to_target_s"] == math.inf


def test_no_target_declared_means_no_scoring(tmp_path):
    record = run_trial(toy(), tmp_path, show_progress=False)
    assert record["target"] is None
    assert flatten(record)["steps_to_target"] is None


def test_trackers_receive_every_evaluation_under_the_ledger_names(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    record = run_trial(toy(), tmp_path, show_progress=False, suite="toys",
                       log_with=["tensorboard"])
    acc = EventAccumulator(str(tmp_path / "trackers" / "tensorboard" / "toys" / record["id"]))
    acc.Reload()
    logged = [(e.step, e.value) for e in acc.Scalars("val_loss")]
    assert logged == [(p["step"], pytest.approx(p["val_loss"])) for p in record["curve"]]
    assert "linf_ratio" in acc.Tags()["scalars"]


def test_a_broken_tracker_never_fails_the_trial(tmp_path, monkeypatch):
    import accelerate.tracking

    class Exploding(accelerate.tracking.TensorBoardTracker):
        def log(self, *a, **k):
            raise OSError("no space left on device")

    monkeypatch.setitem(accelerate.tracking.LOGGER_TYPE_TO_CLASS, "tensorboard", Exploding)
    with pytest.warns(RuntimeWarning, match="tracker tensorboard disabled"):
        record = run_trial(toy(), tmp_path, show_progress=False, log_with=["tensorboard"])
    assert record["status"] == "done"
