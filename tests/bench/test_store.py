import math

from bench.store import Ledger, export_parquet, load_curves, load_trials


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
    paths = export_parquet(tmp_path)
    assert {p.name for p in paths} == {"trials.parquet", "curves.parquet", "per_tensor.parquet"}
