"""The test across comparisons (reports.across_tasks): checked against Demšar's (2006) worked example and his table
of Nemenyi's critical values, and against scipy's Friedman test on fixed inputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from reports.across_tasks import average_ranks, friedman, nemenyi_critical_difference

# Demšar (2006), section 3.2.4: C4.5 with and without its m and cf parameters tuned, on 14 data sets
DEMSAR_RANKS = [3.143, 2.000, 2.893, 1.964]
DEMSAR_N = 14
# Demšar (2006), Table 5(a): q_0.05 of the Nemenyi test for k = 2 … 10 classifiers
DEMSAR_Q = {2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031, 9: 3.102, 10: 3.164}


def test_friedman_and_iman_davenport_reproduce_demsars_worked_example():
    chi_square, f_statistic, p_value = friedman(DEMSAR_RANKS, DEMSAR_N)
    assert chi_square == pytest.approx(9.28, abs=0.01)
    assert f_statistic == pytest.approx(3.69, abs=0.01)
    # "the critical value of F(3, 39) for alpha = 0.05 is 2.85, so we reject the null hypothesis"
    assert stats.f.ppf(0.95, 3, 39) == pytest.approx(2.85, abs=0.01) and p_value < 0.05


@pytest.mark.parametrize("k,q", DEMSAR_Q.items())
def test_nemenyi_critical_difference_uses_demsars_critical_values(k, q):
    assert nemenyi_critical_difference(k, 1) / np.sqrt(k * (k + 1) / 6) == pytest.approx(q, abs=0.001)


def test_nemenyi_critical_difference_of_demsars_example():
    assert nemenyi_critical_difference(4, DEMSAR_N) == pytest.approx(1.25, abs=0.005)


def test_friedman_matches_scipy_on_untied_scores():
    rng = np.random.default_rng(7)
    scores = rng.normal(size=(6, 5)) + np.arange(5) * 0.4  # 6 comparisons, 5 strategies
    ranks = np.asarray(average_ranks(scores.tolist()))
    chi_square, _, _ = friedman(list(ranks.mean(axis=0)), 6)
    assert chi_square == pytest.approx(stats.friedmanchisquare(*scores.T).statistic, rel=1e-9)


def test_ties_share_the_mean_of_their_ranks():
    assert average_ranks([[0.8, 0.9, 0.8, 0.7]]) == [[2.5, 1.0, 2.5, 4.0]]
