"""The report's every-geometry table, on real matrix-quadratic trials: each optimizer's ratio
in the box, the spectral ball and its own geometry, beside the distances to the optima."""

import pytest

from bench.engine.runner import run_trial
from bench.report import render
from bench.report.data import load
from bench.report.geometries import geometry_table
from bench.trial.config import Trial


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    root = tmp_path_factory.mktemp("mq")
    for opt in ("muon", "adamw"):
        trial = Trial(task="matrix_quadratic", optimizer=opt, lr=0.05, weight_decay=2.0,
                      schedule="inverse_sqrt", budget="smoke")
        assert run_trial(trial, root, show_progress=False)["status"] == "done"
    return root


def test_every_optimizer_is_measured_in_every_geometry(ledger):
    (group,) = load([ledger]).groups
    table = geometry_table(group, {"muon": "m", "adamw": "a"})
    rows = table.frame.set_index("optimizer")
    keys = [c.key for c in table.columns]
    for key in ("ball_ratio", "linf_ratio", "spectral_ratio", "dist_spectral", "dist_box",
                "dist_l2"):
        assert key in keys, key
    # Own geometry: AdamW's is the box, Muon's (on its matrix) the spectral ball.
    assert rows.loc["adamw", "ball_ratio"] == pytest.approx(rows.loc["adamw", "linf_ratio"])
    assert rows.loc["muon", "ball_ratio"] == pytest.approx(rows.loc["muon", "spectral_ratio"])
    # AdamW lies closer to the box optimum than Muon does, Muon closer to the spectral one.
    assert rows.loc["adamw", "dist_box"] < rows.loc["muon", "dist_box"]
    assert rows.loc["muon", "dist_spectral"] < rows.loc["adamw", "dist_spectral"]


def test_the_index_and_the_csv_carry_the_table(ledger, tmp_path):
    index = render([ledger], tmp_path / "report", figures=False).read_text()
    assert "Every optimizer in every geometry" in index
    assert 'data-key="spectral_ratio"' in index
    assert list((tmp_path / "report" / "tables").glob("geometries-*.csv"))
