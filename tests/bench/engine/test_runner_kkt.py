"""The runner's kkt_residual: the step-0 probe's gap terms, kept in the record, divide every
later gap at that point's radius; the step-0 probe happens however sparse the evaluations."""

import math

import pytest

from bench.engine.runner import run_trial
from tests.bench.engine.test_runner import toy

KEYS = ("kkt_residual", "ball_kkt_residual")


def start_gap(terms: dict, radius: float, scales: dict) -> float:
    return sum(inner + radius * scales[n] * dual for n, (inner, dual) in terms.items())


@pytest.mark.parametrize("style", ["fixed", "corrected", "decoupled"])
def test_each_point_divides_by_the_initial_gap_at_its_own_radius(tmp_path, style):
    wd = 0.001 if style == "fixed" else 0.1
    trial = toy(weight_decay=wd, schedule="inverse_sqrt", settings={"decay": style})
    record = run_trial(trial, tmp_path, show_progress=False)
    assert record["status"] == "done"
    start = record["kkt_start"]
    scales = {n: g["scale"] for n, g in record["mask"]["geometry"].items()}
    assert set(start["box"]) == set(start["ball"]) == set(scales)
    for point in record["curve"]:
        r = point["radius_t"]
        assert point["kkt_residual"] == pytest.approx(
            point["fw_gap"] / start_gap(start["box"], r, dict.fromkeys(scales, 1.0)))
        assert point["ball_kkt_residual"] == pytest.approx(
            point["ball_fw_gap"] / start_gap(start["ball"], r, scales))
    assert record["curve"][0]["kkt_residual"] == pytest.approx(1.0)
    for name, values in record["per_tensor"].items():
        assert values["kkt_residual"] == pytest.approx(
            values["fw_gap"] / start_gap({name: start["box"][name]}, record["curve"][-1][
                "radius_t"], {name: 1.0}))


def test_the_step_0_probe_happens_with_a_single_evaluation(tmp_path):
    steps = 30
    record = run_trial(toy(steps=steps, eval_every=steps), tmp_path, show_progress=False)
    assert [p["step"] for p in record["curve"]] == [0, steps]
    assert record["kkt_start"] is not None
    for key in KEYS:
        assert record["curve"][0][key] == pytest.approx(1.0)
        assert math.isfinite(record["final"][key]) and record["final"][key] < 1.0
        assert math.isfinite(record["per_tensor"]["linear.weight"][key])


def test_no_box_no_residual(tmp_path):
    record = run_trial(toy(weight_decay=0.0), tmp_path, show_progress=False)
    assert record["status"] == "done" and record["kkt_start"] is not None
    assert all(math.isnan(p[key]) for p in record["curve"] for key in KEYS)
