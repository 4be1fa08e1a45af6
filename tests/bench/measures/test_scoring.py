"""bench.measures.scoring: time-to-target on curves and AlgoPerf-style performance profiles, on
hand-made numbers whose answers follow from the definitions."""

import math

import numpy as np
import pytest

from bench.measures.scoring import (
    INF,
    crossing,
    performance_ratios,
    profile,
    profile_scores,
    to_target,
)


def test_crossing_interpolates_between_the_evaluations_around_it():
    # val_loss 3 at step 0, 2 at step 100, 1 at step 200: target 1.5 is crossed at step 150.
    assert crossing([0, 100, 200], [3.0, 2.0, 1.0], 1.5) == pytest.approx(150.0)
    assert crossing([0, 100, 200], [3.0, 2.0, 1.0], 2.0) == 100.0  # reached exactly
    assert crossing([0, 100], [3.0, 2.0], 1.0) == INF
    assert crossing([0, 10], [0.5, 0.4], 1.0) == 0.0  # reached at the first evaluation
    # accuracy rises: target 0.8 between 0.6 (step 10) and 0.9 (step 20)
    assert crossing([0, 10, 20], [0.1, 0.6, 0.9], 0.8, "max") == pytest.approx(10 + 10 * 2 / 3)


def test_crossing_skips_missing_points_and_rejects_a_bad_mode():
    assert crossing([0, 50, 100], [3.0, None, 1.0], 2.0) == pytest.approx(50.0)
    assert crossing([0, 50, 100], [3.0, math.nan, 1.0], 2.0) == pytest.approx(50.0)
    with pytest.raises(ValueError, match="mode"):
        crossing([0], [1.0], 1.0, "lowest")


def test_to_target_uses_the_training_clock():
    curve = [{"step": 0, "val_loss": 3.0}, {"step": 100, "val_loss": 2.0},
             {"step": 200, "val_loss": 1.0}]
    out = to_target(curve, "val_loss", 1.5, clock=[0.0, 4.0, 10.0])
    assert out["steps_to_target"] == pytest.approx(150.0)
    assert out["time_to_target_s"] == pytest.approx(7.0)
    assert math.isnan(to_target(curve, "val_loss", 1.5)["time_to_target_s"])
    assert math.isnan(to_target(curve, "val_loss", 1.5, clock=[0.0])["time_to_target_s"])


# Three tasks; A is fastest on two, B on one, C never reaches the target on task 3.
TIMES = {"t1": {"A": 10.0, "B": 20.0, "C": 40.0},
         "t2": {"A": 5.0, "B": 4.0, "C": 8.0},
         "t3": {"A": 30.0, "B": 60.0, "C": INF}}


def test_ratios_are_to_the_best_time_per_task():
    r = performance_ratios(TIMES)
    assert r["t1"] == {"A": 1.0, "B": 2.0, "C": 4.0}
    assert r["t2"]["A"] == pytest.approx(1.25) and r["t2"]["B"] == 1.0
    assert r["t3"]["C"] == INF
    assert performance_ratios({"t": {"A": INF, "B": INF}})["t"] == {"A": INF, "B": INF}


def test_profile_is_the_share_of_tasks_within_tau():
    taus, rho = profile(TIMES, taus=[1.0, 1.25, 2.0, 4.0])
    assert list(taus) == [1.0, 1.25, 2.0, 4.0]
    np.testing.assert_allclose(rho["A"], [2 / 3, 1, 1, 1])
    np.testing.assert_allclose(rho["B"], [1 / 3, 1 / 3, 1, 1])
    np.testing.assert_allclose(rho["C"], [0, 0, 1 / 3, 2 / 3])


def test_scores_are_the_normalized_area_under_the_profile():
    scores = profile_scores(TIMES)
    # A: ratios 1, 1.25, 1 -> (3 + 2.75 + 3) / 3 / 3
    assert scores["A"] == pytest.approx((3 + 2.75 + 3) / 9)
    assert scores["B"] == pytest.approx((2 + 3 + 2) / 9)
    assert scores["C"] == pytest.approx((0 + 2 + 0) / 9)
    # the closed form equals the numerical area of the profile
    taus, rho = profile(TIMES, taus=np.linspace(1, 4, 30001))
    for opt, curve in rho.items():
        assert np.trapezoid(curve, taus) / 3 == pytest.approx(scores[opt], abs=1e-3)
    # an optimizer absent from a task never reached it there
    assert profile_scores({"t1": {"A": 1.0}, "t2": {"A": 1.0, "B": 1.0}})["B"] == 0.5
