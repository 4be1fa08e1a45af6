"""A (configuration, seed) counts once in every statistic, however many records it has.

Bookkeeping fields (checkpoint_every, eval_every, compile) change a trial's id but not what it
measures: a suite rerun with another checkpoint interval writes a second record per seed,
which counted twice used to shrink the confidence interval over seeds (issue 23)."""

from __future__ import annotations

import pytest

from bench.analysis import ranking
from bench.ledger.store import load_trials
from bench.report.data import load
from bench.report.leaderboard import leaderboard
from bench.report.tables import configs
from bench.trial.config import Trial
from tests.bench.report_ledgers import small, write

LATER = "2026-12-01T12:00:00+00:00"  # after the synthetic records' date


def _rerun(record: dict, **changes) -> dict:
    """The record of the same trial rerun later with `changes` to its config."""
    config = {**record["config"], **changes}
    return {**record, "id": Trial.from_dict(config).id, "config": config,
            "env": {**record["env"], "date": LATER},
            "final": {**record["final"], "val_loss": record["final"]["val_loss"] + 1.0}}


@pytest.mark.parametrize("changes", [{"checkpoint_every": 100}, {"eval_every": 5},
                                     {"compile": True},
                                     {"checkpoint_every": 50, "eval_every": 10}])
def test_records_differing_only_in_bookkeeping_count_once(tmp_path, changes):
    records = small(optimizers=("adamw",), grid=1, seeds=(0, 1, 2))
    reruns = [_rerun(r, **changes) for r in records]
    assert {r["id"] for r in reruns}.isdisjoint(r["id"] for r in records)
    write(tmp_path, [*records, *reruns])

    summary = ranking.summary_frame(load_trials(tmp_path))
    assert summary.loc[0, "trials"] == 3
    (group,) = load([tmp_path]).groups
    (config,) = configs(group).itertuples()
    assert (config.n, config.done, config.seeds) == (3, 3, (0, 1, 2))
    board = leaderboard(group, {"adamw": "adamw"}).frame
    assert board.loc[0, "val_loss_n"] == 3
    # The latest record of each seed is the one kept (the reruns' val_loss is 1 higher).
    mean_rerun = sum(r["final"]["val_loss"] for r in reruns) / 3
    assert board.loc[0, "val_loss"] == pytest.approx(mean_rerun)


def test_a_finished_record_is_kept_over_a_later_failed_one(tmp_path):
    records = small(optimizers=("adamw",), grid=1, seeds=(0,))
    failed = {**_rerun(records[0], checkpoint_every=100), "status": "failed", "final": {},
              "error": "RuntimeError: out of memory"}
    write(tmp_path, [*records, failed])
    (group,) = load([tmp_path]).groups
    (config,) = configs(group).itertuples()
    assert (config.n, config.done, config.failed) == (1, 1, 0)


def test_records_differing_in_the_configuration_count_apart(tmp_path):
    records = small(optimizers=("adamw",), grid=1, seeds=(0, 1))
    other = [_rerun(r, schedule="constant") for r in records]
    write(tmp_path, [*records, *other])
    (group,) = load([tmp_path]).groups
    table = configs(group)
    assert sorted(table["n"]) == [2, 2] and table["variant"].str.contains("schedule").all()
