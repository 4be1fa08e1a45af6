"""bench.trial.tracking: evaluation points reach real trackers (TensorBoard event files, W&B
offline)
under the ledger's names, and a broken tracker never fails the caller."""

import math

import pytest

from bench.trial.tracking import TrialTrackers, check_names, hparams, scalars

POINTS = [{"step": 0, "val_loss": 2.5, "linf_ratio": 0.1, "train_loss": float("nan")},
          {"step": 10, "val_loss": 1.5, "linf_ratio": 0.7, "train_loss": 1.4},
          {"step": 20, "val_loss": 1.25, "linf_ratio": 0.99, "train_loss": 1.2}]
CONFIG = {"task": "quadratic", "optimizer": "adamw", "lr": 0.01, "weight_decay": 2.0,
          "mask": None, "optimizer_options": {"betas": (0.9, 0.99)}, "task_options": {}}


def _events(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_tensorboard_event_files_hold_the_ledger_points(tmp_path):
    trackers = TrialTrackers(["tensorboard"], tmp_path, "abc123", "quadratic", CONFIG)
    for point in POINTS:
        trackers.log(point)
    trackers.finish()
    run = tmp_path / "trackers" / "tensorboard" / "quadratic" / "abc123"
    events = _events(run)
    assert events["val_loss"] == [(0, 2.5), (10, 1.5), (20, 1.25)]
    assert [s for s, _ in events["train_loss"]] == [10, 20]  # NaN is not logged
    assert events["linf_ratio"][-1] == (20, pytest.approx(0.99))


@pytest.mark.e2e  # wandb.init starts its service process
def test_wandb_offline_run_is_named_by_the_trial(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    trackers = TrialTrackers(["wandb"], tmp_path, "abc123", "quadratic", CONFIG)
    assert [n for n, _ in trackers.trackers] == ["wandb"]
    run = trackers.trackers[0][1].run
    assert run.name == "abc123" and run.group == "quadratic"
    for point in POINTS:
        trackers.log(point)
    trackers.finish()
    assert list((tmp_path / "trackers" / "wandb").glob("offline-run-*/run-*.wandb"))


def test_a_failing_tracker_is_dropped_with_a_warning(tmp_path):
    trackers = TrialTrackers(["tensorboard"], tmp_path, "abc123", "quadratic", CONFIG)

    class Broken:
        def log(self, *a, **k):
            raise OSError("disk full")

    trackers.trackers.append(("broken", Broken()))
    with pytest.warns(RuntimeWarning, match="tracker broken disabled: disk full"):
        trackers.log(POINTS[1])
    assert [n for n, _ in trackers.trackers] == ["tensorboard"]
    trackers.finish()


def test_a_tracker_whose_package_is_missing_is_a_warning(tmp_path):
    import importlib.util

    if importlib.util.find_spec("comet_ml") is not None:
        pytest.skip("comet_ml is installed here")
    with pytest.warns(RuntimeWarning, match="tracker"):
        trackers = TrialTrackers(["comet_ml"], tmp_path, "abc123", "q", CONFIG)
    assert trackers.trackers == []


def test_names_scalars_and_hparams():
    assert check_names(["tensorboard", " wandb", "tensorboard", ""]) == ("tensorboard", "wandb")
    with pytest.raises(ValueError, match="unknown tracker 'tb'"):
        check_names(["tb"])
    assert scalars({"step": 3, "val_loss": 1.0, "x": float("inf"), "flag": True,
                    "name": "s"}) == {"val_loss": 1.0}
    flat = hparams(CONFIG)
    assert flat["opt.betas"] == "(0.9, 0.99)" and flat["mask"] == "None"
    assert all(not isinstance(v, float) or math.isfinite(v) for v in flat.values())


def test_cli_run_logs_to_tensorboard_and_refuses_an_unknown_tracker(tmp_path, capsys):
    import json

    from bench.cli import main
    from tests.bench.helpers import TOY

    args = ["run", "--task", TOY, "--optimizer", "adamw", "--budget", "smoke", "--json"]
    assert main([*args, "--out", str(tmp_path / "bad"), "--log-with", "tb"]) == 2
    err = capsys.readouterr().err
    assert "unknown tracker 'tb'" in err and err.count("\n") == 1
    assert not (tmp_path / "bad").exists()
    assert main([*args, "--out", str(tmp_path), "--log-with", "tensorboard"]) == 0
    record = json.loads(capsys.readouterr().out)
    runs = list((tmp_path / "trackers" / "tensorboard").glob(f"*/{record['id']}"))
    assert len(runs) == 1 and list(runs[0].glob("events.out.tfevents.*"))


def test_a_suite_logs_every_trial_and_a_bad_tracker_key_is_one_line(tmp_path, capsys):
    from bench.cli import main
    from tests.bench.helpers import TOY

    suite = tmp_path / "s.yaml"
    body = (f"task: {TOY}\nbudget: smoke\nseeds: [0]\nlog_with: TRACKERS\n"
            "optimizers:\n  adamw: {lr: 0.01, weight_decay: [0.1, 1.0]}\n")
    suite.write_text(body.replace("TRACKERS", "[tensorboard]"))
    out = tmp_path / "out"
    assert main(["sweep", str(suite), "--out", str(out), "--quiet"]) == 0
    assert len(list((out / "trackers" / "tensorboard" / "s").iterdir())) == 2
    suite.write_text(body.replace("TRACKERS", "tensorbored"))
    assert main(["sweep", str(suite), "--out", str(tmp_path / "bad"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "log_with" in err and "tensorbored" in err and err.count("\n") == 1
    assert not (tmp_path / "bad").exists()
