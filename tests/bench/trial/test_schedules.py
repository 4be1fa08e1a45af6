"""bench/trial/schedules.py: the lr multipliers and which of them meet the theorem's conditions."""

import math

import pytest

from bench.errors import UsageError
from bench.trial import schedules

TOTAL = 100


def _values(name, warmup=0):
    f = schedules.multiplier(name, TOTAL, warmup)
    return [f(t) for t in range(TOTAL + 5)]


def test_constant_and_inverse_sqrt_follow_their_formulas():
    assert _values("constant") == [1.0] * (TOTAL + 5)
    assert _values("inverse_sqrt") == [1 / math.sqrt(t + 1) for t in range(TOTAL + 5)]


def test_cosine_falls_from_one_to_zero_over_the_run_and_stays():
    values = _values("cosine")
    assert values[0] == 1.0
    assert values[TOTAL // 2] == pytest.approx(0.5)
    assert values[TOTAL] == pytest.approx(0.0, abs=1e-15)
    assert values[TOTAL + 4] == values[TOTAL]


def test_warmup_rises_linearly_then_follows_cosine():
    values = _values("warmup_cosine", warmup=10)
    assert values[:10] == pytest.approx([(t + 1) / 10 for t in range(10)])
    assert values[10] == 1.0
    assert values[TOTAL] == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("name", list(schedules.SCHEDULES))
def test_theorem_flag_matches_the_shape(name):
    # The theorem needs a non-increasing schedule whose partial sums diverge (not reaching 0).
    values = _values(name, warmup=10)
    non_increasing = all(b <= a for a, b in zip(values, values[1:]))
    never_zero = min(values) > 0
    assert schedules.get(name).schedule_theorem == (non_increasing and never_zero)


def test_unknown_schedule_is_a_usage_error_listing_the_choices():
    with pytest.raises(UsageError, match="unknown schedule 'linear'; use one of: constant"):
        schedules.multiplier("linear", TOTAL)
