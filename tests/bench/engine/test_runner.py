import os
import subprocess
import sys

import pytest

from bench.engine.runner import run_trial
from bench.ledger.store import Ledger
from bench.trial.config import Trial
from tests.bench.helpers import REPO, TOY, comparable


def toy(**kw) -> Trial:
    base = dict(task=TOY, optimizer="adamw", lr=1e-2, weight_decay=0.1, budget="smoke")
    base.update(kw)
    settings = base.pop("settings", {})
    return Trial(**base).with_settings(settings)


def test_record_holds_config_metrics_curve_and_provenance(tmp_path):
    record = run_trial(toy(), tmp_path, show_progress=False)
    assert record["status"] == "done"
    stored = Ledger(tmp_path).read(record["id"])
    assert stored["config"]["optimizer"] == "adamw" and stored["config"]["lr"] == 1e-2
    for key in ("train_loss", "val_loss", "test_loss", "linf_ratio", "fw_gap_rel",
                "boundary_frac", "l2_stationarity", "dist_w", "gap"):
        assert key in stored["final"], key
    assert [p["step"] for p in stored["curve"]] == [0, 10, 20, 30]
    assert stored["optimizer"]["radius"] == pytest.approx(10.0)
    assert stored["mask"] == {"policy": "matrices", "decayed": 1, "undecayed": 1,
                              "decayed_numel": 5, "undecayed_numel": 1,
                              "geometry": {"linear.weight": {"norm": "linf", "scale": 1.0}}}
    assert stored["schedule"]["schedule_theorem"] is True
    assert set(stored["per_tensor"]) == {"linear.weight"}
    assert stored["env"]["torch"] and stored["task"]["data_fingerprint"] == "toy-v1"


def test_same_trial_twice_gives_identical_metrics(tmp_path):
    a = run_trial(toy(), tmp_path / "a", show_progress=False)
    b = run_trial(toy(), tmp_path / "b", show_progress=False)
    assert comparable(a) == comparable(b)


def test_seed_changes_init_but_data_order_is_shared_across_optimizers(tmp_path):
    a = run_trial(toy(seed=0), tmp_path, show_progress=False)
    b = run_trial(toy(seed=1), tmp_path, show_progress=False)
    assert a["final"]["val_loss"] != b["final"]["val_loss"]
    assert a["id"] != b["id"]


def test_non_finite_loss_marks_trial_diverged_with_its_step(tmp_path):
    # The toy loss turns infinite from its 15th training-mode call; the two probe batches at
    # steps 0 and 10 make 4 of those calls, so the 11th optimizer step is the first bad one.
    record = run_trial(toy(settings={"task.explode_at": 15}), tmp_path, show_progress=False)
    assert record["status"] == "diverged"
    assert record["diverged_at"] == 11
    assert [p["step"] for p in record["curve"]] == [0, 10]
    assert Ledger(tmp_path).has(record["id"])


def test_exception_marks_trial_failed_with_traceback(tmp_path):
    record = run_trial(toy(settings={"task.fail_at": 5}), tmp_path, show_progress=False)
    assert record["status"] == "failed"
    assert "toy task failure requested" in record["error"]


def test_bad_optimizer_option_fails_the_trial_not_the_process(tmp_path):
    record = run_trial(toy(settings={"betas": [2.0, 0.9]}), tmp_path, show_progress=False)
    assert record["status"] == "failed" and "betas" in record["error"]


CRASH = """
import os, sys
from bench.trial.config import Trial
from bench.engine.runner import run_trial
import tests.bench.toy_task as toy

original = toy.ToyTask.loss
def crashing(self, model, batch):
    if model.training:
        crashing.calls += 1
        if crashing.calls == 26:
            os._exit(9)  # a hard kill mid-trial: no cleanup, no record
    return original(self, model, batch)
crashing.calls = 0
toy.ToyTask.loss = crashing
trial = Trial.from_dict(eval(sys.argv[1]))
run_trial(trial, sys.argv[2], show_progress=False)
"""


def kill_and_resume(trial: Trial, tmp_path) -> tuple[dict, dict, Ledger]:
    """A reference run, then the same trial hard-killed mid-run (CRASH) and resumed: the two
    records and the resumed run's ledger. Shared by the CPU and the CUDA resume tests."""
    reference = run_trial(trial, tmp_path / "ref", show_progress=False)
    out = tmp_path / "resumed"
    proc = subprocess.run([sys.executable, "-c", CRASH, repr(trial.to_dict()), str(out)],
                          cwd=REPO, env={**os.environ}, capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    ledger = Ledger(out)
    assert not ledger.has(trial.id)
    assert (ledger.checkpoint_dir(trial.id) / "latest" / "progress.json").exists()
    return reference, run_trial(trial, out, show_progress=False), ledger


@pytest.mark.e2e
def test_killed_trial_resumes_from_checkpoint_with_identical_result(tmp_path):
    trial = toy(settings={"checkpoint_every": 10})
    reference, resumed, ledger = kill_and_resume(trial, tmp_path)
    assert comparable(resumed) == comparable(reference)
    assert not ledger.checkpoint_dir(trial.id).exists()


def test_overridden_decay_style_sets_the_recorded_radius(tmp_path):
    record = run_trial(toy(settings={"decay": "independent"}), tmp_path, show_progress=False)
    assert record["optimizer"]["decay"] == "independent"
    assert record["optimizer"]["radius"] == pytest.approx(1e-2 / 0.1)  # lr_max / wd
