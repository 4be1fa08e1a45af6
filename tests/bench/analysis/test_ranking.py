"""One rule for the best configuration: the report's leaderboard and the sweep's summary pick
the same one."""

from __future__ import annotations

import pandas as pd
import pytest

from bench import schema
from bench.analysis import ranking
from bench.analysis.ranking import Selection
from bench.ledger.store import load_trials
from bench.report.data import load
from bench.report.tables import best_configs
from tests.bench.report.synthetic import synthetic_records, write_synthetic_ledger
from tests.bench.report_ledgers import write


def _trials(rows):
    base = {"task": "t", "budget": "cpu", "variant": "", "status": "done"}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_complete_configurations_win_over_a_lucky_seed():
    t = _trials([
        {"optimizer": "a", "lr": 1.0, "weight_decay": 0.1, "seed": 0, "val_loss": 0.1},
        {"optimizer": "a", "lr": 1.0, "weight_decay": 0.1, "seed": 1, "val_loss": None,
         "status": "diverged"},
        {"optimizer": "a", "lr": 2.0, "weight_decay": 0.1, "seed": 0, "val_loss": 0.5},
        {"optimizer": "a", "lr": 2.0, "weight_decay": 0.1, "seed": 1, "val_loss": 0.7},
        {"optimizer": "a", "lr": 3.0, "weight_decay": 0.1, "seed": 0, "val_loss": 0.2},
        {"optimizer": "a", "lr": 3.0, "weight_decay": 0.1, "seed": 1, "val_loss": 1.2},
    ])
    best = ranking.best_per_optimizer(ranking.configurations(t), Selection("val_loss", "min"))
    row = best.iloc[0]
    assert (row["lr"], row["val_loss"], row["selected_partial"]) == (2.0, 0.6, False)
    assert (row["opt_trials"], row["opt_diverged"]) == (6, 1)
    # Higher is better for accuracy.
    t["val_accuracy"] = [0.9, None, 0.5, 0.6, 0.7, 0.2]
    best = ranking.best_per_optimizer(ranking.configurations(t),
                                      Selection("val_accuracy", "max"))
    assert best.iloc[0]["lr"] == 2.0  # 0.55 beats 0.45; lr 1.0 lost a seed


def test_a_partial_configuration_is_used_only_when_none_is_complete():
    t = _trials([
        {"optimizer": "a", "lr": 1.0, "weight_decay": 0.1, "seed": 0, "val_loss": 0.3},
        {"optimizer": "a", "lr": 1.0, "weight_decay": 0.1, "seed": 1, "val_loss": None,
         "status": "failed"},
        {"optimizer": "b", "lr": 1.0, "weight_decay": 0.1, "seed": 0, "val_loss": None,
         "status": "diverged"},
    ])
    best = ranking.best_per_optimizer(ranking.configurations(t),
                                      Selection("val_loss", "min")).set_index("optimizer")
    assert best.loc["a", "selected_partial"] is True and best.loc["a", "val_loss"] == 0.3
    assert best.loc["b", "selected_partial"] is None and pd.isna(best.loc["b", "lr"])


def test_the_sweep_summary_and_the_report_pick_the_same_configuration(tmp_path):
    write_synthetic_ledger(tmp_path, tasks=("quadratic", "cifar10"),
                           optimizers=("adamw", "adam_l2", "lion"), grid=3, evals=3, failed=2)
    summary = ranking.summary_frame(load_trials(tmp_path))
    assert set(summary["task"]) == {"quadratic", "cifar10"}
    for column in summary.columns:
        schema.get(column)  # schema-named
    for group in load([tmp_path]).groups:
        report = best_configs(group).set_index("optimizer")
        mine = summary[summary["task"] == group.task].set_index("optimizer")
        assert set(mine.index) == set(report.index)
        for opt in report.index:
            assert (mine.loc[opt, "lr"], mine.loc[opt, "weight_decay"]) == \
                (report.loc[opt, "lr"], report.loc[opt, "weight_decay"]), (group.task, opt)
        metric = group.selection.metric
        assert list(mine[metric]) == sorted(mine[metric], reverse=not group.selection.ascending)


def test_an_empty_ledger_has_an_empty_summary():
    assert ranking.summary_frame(pd.DataFrame()).empty


@pytest.mark.parametrize("mode,expected", [("min", True), ("max", False)])
def test_selection_direction(mode, expected):
    assert Selection("m", mode).better(1.0, 2.0) is expected


def test_the_summary_leaves_out_records_of_older_code(tmp_path):
    records = synthetic_records(tasks=("quadratic",), optimizers=("adamw",), grid=2, evals=3,
                                failed=0)
    stale = {**records[0], "id": "5ta1e0000000", "code_fingerprint": "0" * 12 + "+" + "0" * 12,
             "config": {**records[0]["config"], "lr": 123.0},
             "env": {**records[0]["env"], "date": "2020-01-01T00:00:00+00:00"},
             "final": {**records[0]["final"], "val_loss": -1.0}}
    write(tmp_path, [*records, stale])
    summary = ranking.summary_frame(load_trials(tmp_path))
    assert summary.loc[0, "lr"] != 123.0 and summary.loc[0, "val_loss"] > 0
