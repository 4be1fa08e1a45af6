import json
import math
import shutil
from pathlib import Path

from bench.ledger.fingerprint import of_trial
from bench.ledger.store import (
    SCHEMA_VERSION,
    Ledger,
    flatten,
    is_fresh,
    load_curves,
    load_trials,
    migrate,
)
from bench.trial.config import Trial


def _record(trial_id: str, val: float) -> dict:
    return {"id": trial_id, "status": "done", "config": {"task": "t", "optimizer": "adamw",
                                                         "lr": 0.1, "weight_decay": 0.5},
            "final": {"val_loss": val, "lr": 0.01}, "curve": [{"step": 0, "val_loss": val}]}


def test_half_written_temp_files_are_never_records(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.write(_record("aaa", 1.0))
    (ledger.trials_dir / ".tmp-killed.json").write_text('{"id": "bbb", "sta')
    assert ledger.ids() == {"aaa"}
    assert [r["id"] for r in ledger.records()] == ["aaa"]


def test_non_finite_values_are_stored_as_null_and_loaders_flatten(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.write(_record("aaa", math.inf))
    ledger.write(_record("bbb", 2.0))
    assert ledger.read("aaa")["final"]["val_loss"] is None
    trials = load_trials(tmp_path)
    assert list(trials.id) == ["aaa", "bbb"]
    assert trials.set_index("id").loc["bbb", "val_loss"] == 2.0
    assert (trials.lr == 0.1).all()  # a final metric never hides the configured lr
    assert len(load_curves(tmp_path)) == 2


# --- schema versions ------------------------------------------------------------------------

V1 = Path(__file__).parents[1] / "fixtures" / "record_v1.json"  # written by the version-1 runner


def _v1_ledger(tmp_path) -> Ledger:
    ledger = Ledger(tmp_path)
    ledger.trials_dir.mkdir(parents=True)
    shutil.copy(V1, ledger.trials_dir / V1.name.replace("record_v1", _v1()["id"]))
    return ledger


def _v1() -> dict:
    return json.loads(V1.read_text())


def test_version_1_records_load_under_the_new_names(tmp_path):
    old = _v1()
    assert old["schema"] == 1 and "decay_style" in old["optimizer"]
    ledger = _v1_ledger(tmp_path)
    record = ledger.read(old["id"])
    assert record["schema"] == SCHEMA_VERSION == 2
    assert record["optimizer"]["decay"] == "decoupled" and "decay_style" not in record["optimizer"]
    assert record["schedule"] == {"name": "cosine", "schedule_theorem": False}
    assert record["code_fingerprint"] is None
    row = flatten(record)
    assert (row["decay"], row["schedule"], row["schedule_theorem"], row["mask"]) == \
        ("decoupled", "cosine", False, "matrices")
    assert migrate(record) == record  # migrating twice changes nothing
    assert load_trials(tmp_path).loc[0, "decay"] == "decoupled"


def test_a_version_1_record_keeps_its_id_and_is_stale(tmp_path):
    old = _v1()
    trial = Trial.from_dict(old["config"])
    assert trial.id == old["id"]  # ids no longer hash the package version, but kept theirs
    ledger = _v1_ledger(tmp_path)
    assert ledger.finished_ids([trial]) == set()  # no fingerprint: run it again
    assert ledger.finished_ids([trial], rerun_stale=False) == {trial.id}
    fresh = dict(ledger.read(trial.id), code_fingerprint=str(of_trial(trial.task, "adamw")))
    ledger.write(fresh)
    assert ledger.finished_ids([trial]) == {trial.id}
    assert is_fresh(fresh, fresh["code_fingerprint"]) and not is_fresh(old, "x+y")
