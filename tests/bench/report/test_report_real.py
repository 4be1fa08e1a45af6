"""The report over records written by the real runner (the toy task of the engine tests):
the schema as produced, not as documented."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.engine.runner import run_trial
from bench.report import claim_verdicts, render
from bench.report.constraints import constraints
from bench.report.data import load
from bench.report.leaderboard import leaderboard
from bench.trial.config import Trial
from tests.bench.helpers import TOY


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    grid = [("adamw", 1e-2, 0.1), ("adamw", 1e-2, 1.0), ("adam_l2", 1e-2, 1e-3),
            ("lion", 1e-3, 1.0)]
    for opt, lr, wd in grid:
        for seed in (0, 1):
            trial = Trial(task=TOY, optimizer=opt, lr=lr, weight_decay=wd, budget="smoke",
                          seed=seed, schedule="cosine")
            run_trial(trial, root, show_progress=False)
    bad = Trial(task=TOY, optimizer="lion", lr=3e-3, weight_decay=1.0, budget="smoke")
    run_trial(bad.with_settings({"task.explode_at": 15}), root, show_progress=False)
    run_trial(bad.with_settings({"task.fail_at": 5, "seed": 1}), root, show_progress=False)
    return root


def test_tables_from_runner_records(ledger):
    data = load([ledger])
    assert len(data.groups) == 1
    group = data.groups[0]
    assert (group.selection.metric, group.selection.mode) == ("val_loss", "min")
    board = leaderboard(group, {o: o for o in group.trials["optimizer"]}).frame
    board = board.set_index("optimizer")
    # The config lr, not the last scheduled lr the runner also records under 'final'.
    assert board.loc["adam_l2", "lr"] == 1e-2 and board.loc["lion", "lr"] == 1e-3
    assert board.loc["adam_l2", "metric_radius"] == pytest.approx(1000.0)  # 1/λ reference
    assert board.loc["lion", "diverged"] == 1 and board.loc["lion", "failed"] == 1
    judged = claim_verdicts.judge(data)
    rows = constraints(group, {o: o for o in group.trials["optimizer"]}, judged).frame
    adamw = rows[rows["optimizer"] == "adamw"]
    assert set(adamw["schedule_theorem_text"]) == {"no"}  # cosine: not the theorem's schedule
    assert pd.notna(adamw["linf_ratio"]).all() and pd.notna(adamw["kkt_residual"]).all()
    # Cosine is outside Xie & Li's theorem: their box and KKT claims do not apply.
    # Cosine is not the theorem's schedule: Xie & Li's box and KKT claims do not apply.
    assert all(v.startswith("1 – not-applicable · 2 – not-applicable") for v in adamw["verdict"])
    assert "cosine is not a theorem schedule" in adamw["verdict_detail"].iloc[0]


def test_site_from_runner_records(ledger, tmp_path):
    # The pages' text; figures from runner records are drawn by the end-to-end sweeps.
    index = render([ledger], tmp_path / "html", figures=False)
    text = index.read_text()
    assert "Leaderboard" in text and "toy-v1" in text
    assert render([ledger], tmp_path / "md", fmt="md").read_text().count("| adamw |") >= 1
