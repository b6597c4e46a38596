"""reports.stats against published values (R's ``sleep`` data set) and against scipy."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from reports.stats import compare_means, paired_t_test, summarize, t_critical, welch_t_test

# Cushny & Peebles (1905), R's datasets::sleep: extra hours of sleep for 10 patients under two drugs.
DRUG_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
DRUG_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_t_interval_matches_r():
    """R: t.test(sleep$extra[1:10]) → mean 0.75, 95% CI [-0.5297804, 2.0297804]."""
    summary = summarize(DRUG_1)
    assert summary.n == 10
    assert summary.mean == pytest.approx(0.75)
    assert summary.std == pytest.approx(1.789010, abs=1e-6)
    assert summary.ci_low == pytest.approx(-0.5297804, abs=1e-7)
    assert summary.ci_high == pytest.approx(2.0297804, abs=1e-7)
    assert summary.reason is None


def test_t_interval_by_hand_for_three_seeds():
    """0.80, 0.82, 0.84: sd 0.02, t(2, 0.975) = 4.302653, half width 4.302653 · 0.02 / √3 = 0.0496828."""
    summary = summarize([0.80, 0.82, 0.84])
    assert t_critical(2) == pytest.approx(4.302653, abs=1e-6)
    assert summary.std == pytest.approx(0.02)
    assert summary.half_width == pytest.approx(0.0496828, abs=1e-7)
    low, high = scipy_stats.t.interval(0.95, 2, loc=0.82, scale=0.02 / math.sqrt(3))
    assert (summary.ci_low, summary.ci_high) == (pytest.approx(low), pytest.approx(high))


def test_one_value_has_no_spread_and_says_why():
    summary = summarize([0.83])
    assert summary.mean == 0.83
    assert (summary.std, summary.ci_low, summary.ci_high) == (None, None, None)
    assert summary.reason == "n/a (1 seed)"


def test_paired_t_test_matches_r():
    """R: t.test(extra ~ group, data = sleep, paired = TRUE) → t = -4.0621, df = 9, p = 0.002833,
    mean difference -1.58, 95% CI [-2.4598858, -0.7001142]."""
    seeds = range(10)
    result = paired_t_test(dict(zip(seeds, DRUG_1)), dict(zip(seeds, DRUG_2)))
    assert result.method == "paired t-test"
    assert result.n == 10
    assert result.mean == pytest.approx(-1.58)
    assert result.t == pytest.approx(-4.0621, abs=1e-4)
    assert result.p == pytest.approx(0.002833, abs=1e-6)
    assert result.ci_low == pytest.approx(-2.4598858, abs=1e-7)
    assert result.ci_high == pytest.approx(-0.7001142, abs=1e-7)
    assert result.significant() is True


def test_pairs_are_matched_by_seed_number_not_position():
    a = {0: 0.80, 1: 0.85, 2: 0.83, 7: 0.99}  # seed 7 has no partner: left out
    b = {2: 0.81, 0: 0.79, 1: 0.82}
    result = paired_t_test(a, b)
    expected = scipy_stats.ttest_rel([0.80, 0.85, 0.83], [0.79, 0.82, 0.81])
    assert result.n == 3
    assert result.mean == pytest.approx((0.01 + 0.03 + 0.02) / 3)
    assert result.p == pytest.approx(expected.pvalue)


def test_degenerate_pairs_give_no_test_rather_than_a_fake_p():
    one = paired_t_test({0: 0.8}, {0: 0.7})
    assert one.p is None and one.ci_low is None and one.reason == "n/a (1 seed)"
    same = paired_t_test({0: 0.8, 1: 0.9}, {0: 0.7, 1: 0.8})  # identical difference on both seeds
    assert same.p is None and same.mean == pytest.approx(0.1)
    assert "same difference on every seed" in same.reason
    assert paired_t_test({0: 0.8}, {1: 0.7}).reason == "n/a (no seed in common)"


def test_welch_matches_scipy_and_is_used_when_seeds_differ():
    a, b = [0.81, 0.83, 0.86, 0.84], [0.78, 0.80, 0.79]
    expected = scipy_stats.ttest_ind(a, b, equal_var=False)
    result = welch_t_test(a, b)
    assert result.t == pytest.approx(expected.statistic)
    assert result.p == pytest.approx(expected.pvalue)
    assert compare_means(dict(enumerate(a)), dict(enumerate(b))).method == "Welch t-test"
    assert compare_means({0: 0.8, 1: 0.9}, {0: 0.7, 1: 0.75}).method == "paired t-test"


scores = st.lists(st.floats(0.0, 1.0, allow_nan=False).map(lambda x: round(x, 3)), min_size=2, max_size=8)


@settings(max_examples=60, deadline=None)
@given(scores, st.data())
def test_paired_test_agrees_with_scipy_on_any_sample(a, data):
    b = data.draw(st.lists(st.floats(0.0, 1.0, allow_nan=False).map(lambda x: round(x, 3)),
                           min_size=len(a), max_size=len(a)))
    result = paired_t_test(dict(enumerate(a)), dict(enumerate(b)))
    differences = [x - y for x, y in zip(a, b)]
    if max(differences) - min(differences) < 1e-9:  # one difference repeated, up to rounding
        assert result.p is None
        return
    expected = scipy_stats.ttest_rel(a, b)
    assert result.p == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-12)
    assert result.ci_low <= result.mean <= result.ci_high
