"""The runner measures each evaluation point against the radius at that point's lr."""

import math

import pytest

from bench.engine.runner import run_trial
from tests.bench.engine.test_runner import toy


@pytest.mark.parametrize("style,radius_at", [
    ("fixed", lambda lr, lr_max, wd: lr / wd),
    ("corrected", lambda lr, lr_max, wd: lr_max / (wd * lr)),
    ("decoupled", lambda lr, lr_max, wd: 1 / wd),
])
def test_moving_radii_follow_the_scheduled_lr(tmp_path, style, radius_at):
    wd = 0.001 if style == "fixed" else 0.1
    trial = toy(weight_decay=wd, schedule="inverse_sqrt", settings={"decay": style})
    record = run_trial(trial, tmp_path, show_progress=False)
    assert record["status"] == "done"
    assert record["optimizer"]["radius"] == pytest.approx(radius_at(1e-2, 1e-2, wd))
    lrs = {point["scheduled_lr"] for point in record["curve"]}
    assert len(lrs) == len(record["curve"])  # the lr moves between evaluations
    for point in record["curve"]:
        expected = radius_at(point["scheduled_lr"], 1e-2, wd)
        assert point["radius_t"] == pytest.approx(expected)
        assert point["linf_ratio"] == pytest.approx(point["linf_norm"] / expected)


def test_corrected_decay_runs_a_schedule_to_zero(tmp_path):
    """AdamC's radius η_max/(λη_t) at the last point of a cosine schedule (η_t = 0) is infinite,
    its limit (it was a division by zero that failed the trial): no box, nothing outside it."""
    trial = toy(weight_decay=0.1, schedule="cosine", settings={"decay": "corrected"})
    record = run_trial(trial, tmp_path, show_progress=False)
    assert record["status"] == "done", record["error"]
    last = record["curve"][-1]
    assert last["scheduled_lr"] == 0.0 and last["radius_t"] == float("inf")
    assert last["linf_ratio"] == 0.0 and last["violation"] == 0.0
    assert record["curve"][-2]["radius_t"] == pytest.approx(
        1e-2 / (0.1 * record["curve"][-2]["scheduled_lr"]))


def test_fixed_decay_runs_a_schedule_to_zero(tmp_path):
    """The `fixed` style's radius η_t/λ is 0 at the last point of a cosine schedule: a box of
    one point, against which no ratio or gap is defined. The trial finishes (it failed there
    before); that point's box metrics are NaN, the others are measured as usual."""
    wd = 0.001
    trial = toy(weight_decay=wd, schedule="cosine", settings={"decay": "fixed"})
    record = run_trial(trial, tmp_path, show_progress=False)
    assert record["status"] == "done", record["error"]
    last, before = record["curve"][-1], record["curve"][-2]
    assert last["scheduled_lr"] == 0.0 and last["radius_t"] == 0.0
    assert all(math.isnan(last[k]) for k in ("linf_ratio", "fw_gap", "kkt_residual"))
    assert math.isfinite(last["l2_stationarity"])
    assert before["scheduled_lr"] > 0
    assert before["radius_t"] == pytest.approx(before["scheduled_lr"] / wd)
    assert before["linf_ratio"] == pytest.approx(before["linf_norm"] / before["radius_t"])
