"""Strategies compared across several comparisons (tasks or models): each one's rank per comparison, the Friedman
test of whether the ranks differ at all, and the Nemenyi critical difference of average ranks, as Demšar (2006,
*Statistical Comparisons of Classifiers over Multiple Data Sets*, JMLR 7) recommends for k methods on N data sets.

Why this test: a comparison's scores are not commensurable across tasks (70% on RTE and 90% on SST-2 say
different things), and N is small (a handful of tasks); ranks per task need neither commensurability nor normality,
and the Friedman–Nemenyi pair is the reference a reader of a paper's cross-task table expects, with the
critical-difference diagram to draw it. The Bayesian signed-rank test (Benavoli et al. 2017) answers a different
question, one pair at a time. With few comparisons the test has little power: the critical difference is then
wide, and the report says so instead of calling anything better."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from reports.confidence import ALPHA
from reports.tables import CombinedTable


@dataclass(frozen=True)
class AcrossTasks:
    strategies: list[str]  # those with a score in every comparison, best average rank first
    ranks: dict[str, list[float]]  # strategy → its rank in each comparison (1 best; ties share the mean rank)
    comparisons: int  # N
    chi_square: float  # Friedman's statistic
    f_statistic: float | None  # Iman and Davenport's F form (None where undefined: every rank identical)
    p_value: float
    critical_difference: float  # Nemenyi, at ALPHA: average ranks further apart than this differ
    alpha: float = ALPHA

    def average(self, strategy: str) -> float:
        return statistics.fmean(self.ranks[strategy])

    @property
    def differs(self) -> bool:
        """The Friedman test rejects that every strategy has the same expected rank."""
        return self.p_value < self.alpha

    def cliques(self) -> list[list[str]]:
        """Maximal runs of strategies (in average-rank order) whose average ranks lie within the critical
        difference of each other: the bars of a critical-difference diagram."""
        order, found = self.strategies, []
        for start in range(len(order)):
            end = start
            while end + 1 < len(order) and self.average(order[end + 1]) - self.average(order[start]) <= \
                    self.critical_difference:
                end += 1
            if end > start and not any(start >= s and end <= e for s, e in found):
                found.append((start, end))
        return [order[s:e + 1] for s, e in found]


def average_ranks(scores: list[list[float]]) -> list[list[float]]:
    """Each row (a comparison) of scores as ranks, 1 for the highest, ties sharing the mean of their ranks."""
    ranked = []
    for row in scores:
        order = sorted(range(len(row)), key=lambda j: -row[j])
        ranks = [0.0] * len(row)
        position = 0
        while position < len(order):
            tied = [j for j in order[position:] if row[j] == row[order[position]]]
            for j in tied:
                ranks[j] = position + (len(tied) + 1) / 2
            position += len(tied)
        ranked.append(ranks)
    return ranked


def friedman(mean_ranks: list[float], comparisons: int) -> tuple[float, float | None, float]:
    """Friedman's chi-square from the average ranks of k strategies over N comparisons, Iman and Davenport's F
    and its p-value (F with k − 1 and (k − 1)(N − 1) degrees of freedom), as Demšar gives them (no tie
    correction); where F is undefined, chi-square's p-value (k − 1 degrees of freedom)."""
    from scipy import stats

    k, n = len(mean_ranks), comparisons
    chi_square = 12 * n / (k * (k + 1)) * (sum(r * r for r in mean_ranks) - k * (k + 1) ** 2 / 4)
    denominator = n * (k - 1) - chi_square
    if denominator <= 0:  # every comparison ranks them alike: F is undefined, chi-square's own p-value stands
        return chi_square, None, float(stats.chi2.sf(chi_square, k - 1))
    f_statistic = (n - 1) * chi_square / denominator
    return chi_square, f_statistic, float(stats.f.sf(f_statistic, k - 1, (k - 1) * (n - 1)))


def nemenyi_critical_difference(strategies: int, comparisons: int, alpha: float = ALPHA) -> float:
    """CD = q_alpha · √(k(k + 1) / 6N), q_alpha the studentized range quantile for k groups and infinite degrees of
    freedom divided by √2 (Demšar's Table 5)."""
    from scipy import stats

    q = stats.studentized_range.ppf(1 - alpha, strategies, math.inf) / math.sqrt(2)
    return float(q * math.sqrt(strategies * (strategies + 1) / (6 * comparisons)))


def across_tasks(table: CombinedTable, alpha: float = ALPHA) -> AcrossTasks | None:
    """The test over the strategies with a score in every comparison; None with fewer than 2 comparisons or 2 such
    strategies (ranks then say nothing)."""
    shared = [name for name in table.strategies if all(cell is not None for cell in table.cells[name])]
    comparisons = len(table.labels)
    if comparisons < 2 or len(shared) < 2:
        return None
    ranked = average_ranks([[table.cells[name][i].mean for name in shared] for i in range(comparisons)])
    ranks = {name: [ranked[i][j] for i in range(comparisons)] for j, name in enumerate(shared)}
    order = sorted(shared, key=lambda name: (statistics.fmean(ranks[name]), shared.index(name)))
    chi_square, f_statistic, p_value = friedman([statistics.fmean(ranks[name]) for name in order], comparisons)
    return AcrossTasks(order, ranks, comparisons, chi_square, f_statistic, p_value,
                       nemenyi_critical_difference(len(order), comparisons, alpha), alpha)
