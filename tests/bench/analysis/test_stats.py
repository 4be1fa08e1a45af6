"""bench.analysis.stats: intervals and tests from scipy.stats, checked against textbook values
and hand computations."""

import math
import statistics

import pytest

from bench.analysis.stats import bootstrap_ci, mean_ci, paired_test, t_quantile


@pytest.mark.parametrize("df, value", [(1, 12.706), (2, 4.303), (10, 2.228), (30, 2.042),
                                       (40, 2.021), (60, 2.000), (120, 1.980)])
def test_t_quantiles_match_the_textbook_table(df, value):
    assert t_quantile(df) == pytest.approx(value, abs=1e-3)


def test_t_quantile_needs_two_values():
    with pytest.raises(ValueError):
        t_quantile(0)


def test_mean_ci_is_the_t_interval_of_the_finite_values():
    xs = [1.0, 1.3, 0.8, 1.1]
    ci = mean_ci(xs + [float("nan"), None])
    assert ci.n == 4 and ci.mean == pytest.approx(statistics.mean(xs))
    assert ci.half_width == pytest.approx(3.1824 * statistics.stdev(xs) / 2, rel=1e-4)
    assert ci.low < ci.mean < ci.high
    assert math.isnan(mean_ci([2.0]).half_width) and mean_ci([]).n == 0


def test_paired_test_matches_a_hand_computed_t_statistic():
    mine = [1.10, 1.25, 0.95, 1.20, 1.05]
    ref = [1.00, 1.10, 0.90, 1.00, 1.00]
    d = [a - b for a, b in zip(mine, ref)]
    t = statistics.mean(d) / (statistics.stdev(d) / math.sqrt(len(d)))
    result = paired_test(mine, ref)
    assert result.delta.mean == pytest.approx(statistics.mean(d))
    assert result.delta.n == 5
    # t = 3.773 with 4 degrees of freedom; the t table gives two-sided p = 0.02 at t = 3.747
    # and p = 0.01 at t = 4.604, so p lies just below 0.02.
    assert t == pytest.approx(3.773, abs=1e-3)
    assert 0.018 < result.p_value < 0.02
    assert "ttest_rel" in result.test


def test_paired_test_drops_unpaired_seeds_and_handles_no_spread():
    nan = float("nan")
    assert paired_test([1.0, nan, 3.0], [0.5, 1.0, 2.5]).delta.n == 2
    assert paired_test([1.0, 2.0], [0.5, 1.5]).p_value == 0.0  # Δ = 0.5 exactly, twice
    assert paired_test([1.0, 2.0], [1.0, 2.0]).p_value == 1.0
    assert math.isnan(paired_test([1.0], [0.0]).p_value)
    with pytest.raises(ValueError):
        paired_test([1.0], [1.0, 2.0])


def test_bootstrap_interval_brackets_the_mean_and_needs_enough_seeds():
    xs = [0.9, 1.0, 1.1, 1.3, 0.7, 1.05]
    low, high = bootstrap_ci(xs)
    assert low < statistics.mean(xs) < high
    assert high - low < max(xs) - min(xs)
    assert bootstrap_ci(xs[:4]) is None
    assert bootstrap_ci([2.0] * 6) == (2.0, 2.0)
    assert bootstrap_ci(xs, seed=3) == bootstrap_ci(xs, seed=3)
