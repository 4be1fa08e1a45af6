"""The runner measures each evaluation point against the radius at that point's lr."""

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
