"""Conclusions with stated confidence (issue #21): each strategy's score interval, paired differences with a
multiplicity correction, the verdicts better / equivalent / undetermined, the top group, how much more data
would decide an undetermined pair, and the trivial baselines a strategy must beat to have learned anything.

The data: every seed run of every strategy predicts the same held-out rows. So a score varies with the seed
(a new training) *and* with the sample of rows (another equally valid held-out set), and the row term does not
shrink with more seeds, because every seed is scored on the same rows. Each seed run's metric is turned into
per-row pseudo-values whose mean is the metric (the row's correctness for accuracy; jackknife pseudo-values
for macro-F1, MCC, macro recall, Pearson). Crossing seeds with rows, a two-way analysis of variance splits
the variance of any contrast of strategies (one strategy's score, or the difference of two) into a seed term,
a row term paired across strategies (models tend to get the same rows right) and an interaction, unbiasedly
from 2 seeds on. Intervals are Student t with Welch–Satterthwaite degrees of freedom (the fewer of those
and of the same with each seed variance raised to the pooled one), so with 3 seeds, where the seed term has 2
degrees of freedom, they widen as they must. Differences are corrected by Bonferroni over all pairs.
docs/statistics.md gives the method and the simulations that check it (coverage, family-wise error, power,
equivalence).

Two other ways in, for what the per-row layout cannot take: :func:`analyse_scores`, for seed runs that recorded
their scores but not their predictions (results.json files written before predictions were kept), bounds the
rows' term of an accuracy by p(1 − p)/rows, unpaired (conservative); and :meth:`RowScores.blend` interpolates
per-row values between two data sizes. The optimism of a report (:func:`selection_optimism`,
:func:`split_difference`) is tested here too, so that no statistical decision lives anywhere else.

numpy and scipy only: reports/ never imports torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Collection, Iterable, Literal, Mapping, Sequence

import numpy as np
from scipy import stats

from peftbench.metrics import undefined_reason

ALPHA = 0.05
# The default equivalence margins, in each metric's units (0.05 = 5 accuracy points): the smallest round margin at
# which the default budget (7 strategies, 3 seeds, 872 held-out rows) calls truly equal strategies equivalent with
# a fair chance: 39% of the pairs (16% at 0.04, 2% at 0.03; docs/statistics.md, "The default margin"). Below it,
# "undetermined" is the common answer. MCC varies about twice as much as accuracy (standard error 2.9 against 1.3
# points at 872 rows), and so, on the same [-1, 1] scale, is taken to vary Pearson's r.
DEFAULT_MARGINS = {"accuracy": 0.05, "recall": 0.05, "precision": 0.05, "macro_f1": 0.05, "f1": 0.05,
                   "mcc": 0.10, "pearson": 0.10}
POWER = 0.8  # the chance that more data decides an undetermined pair, for needed_seeds / needed_examples
MAX_SEEDS = 50  # needed_seeds searches up to this many seeds per strategy; beyond it, more seeds will not decide
METRICS = tuple(DEFAULT_MARGINS)

Verdict = Literal["better", "equivalent", "undetermined"]

METHOD = ("t interval over seeds combined with the sampling term of the held-out rows all seeds share "
          "(two-way variance components of per-row {pseudo}, Welch–Satterthwaite degrees of freedom)")
SUMMARY_METHOD = ("t interval over seed scores combined with a binomial bound on the held-out rows' sampling term, "
                  "p(1 − p)/rows, not paired across strategies (no per-row predictions recorded; conservative), "
                  "Welch–Satterthwaite degrees of freedom")
CORRECTION = "Bonferroni over all {pairs} pairs: simultaneous {level:.0%} intervals of every difference"


@dataclass(frozen=True)
class RowValues:
    """Values by held-out row id: one seed run's predictions (a class, or a score for regression), or the
    split's gold labels. Rows are matched by id, so the order does not matter and a run may lack some rows."""

    ids: np.ndarray
    values: np.ndarray

    def __post_init__(self):
        if len(self.ids) != len(self.values):
            raise ValueError(f"{len(self.ids)} row ids but {len(self.values)} values")
        ordered = np.sort(self.ids)
        if (ordered[1:] == ordered[:-1]).any():
            raise ValueError("row ids repeat: each row can be predicted once per seed run")


@dataclass(frozen=True)
class Interval:
    """An estimate and a two-sided interval at ``level``, Student t with (Satterthwaite) ``df``."""

    estimate: float
    low: float
    high: float
    standard_error: float
    df: float
    level: float
    method: str

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class Components:
    """The variance of a difference, split by source, so that more seeds or more rows can be planned:
    ``seed`` and ``interaction`` per strategy of the pair, ``rows`` the paired between-row term.
    At ``seeds`` seeds per strategy and ``rows`` rows the variance is
    sum(seed)/seeds + sum(interaction)/(rows·seeds) + rows_term/rows."""

    seed: tuple[float, float]  # each strategy's between-seed variance of its true score
    interaction: tuple[float, float]  # each strategy's seed × row variance
    rows: float  # variance over rows of the difference of the two strategies' expected per-row values

    def variance(self, seeds: np.ndarray | float, rows: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """The variance of the difference at ``seeds`` per strategy and ``rows`` rows, with its Satterthwaite df."""
        seeds, rows = np.broadcast_arrays(np.asarray(seeds, dtype=float), np.asarray(rows, dtype=float))
        terms = [s / seeds + i / (rows * seeds) for s, i in zip(self.seed, self.interaction)]
        return satterthwaite(np.stack([*terms, self.rows / rows], -1), np.stack([seeds - 1, seeds - 1, rows - 1], -1))


@dataclass(frozen=True)
class PairVerdict:
    """``ahead`` − ``behind`` (``ahead`` has the higher estimate) and what can be said about it.

    ``difference`` is the Bonferroni-corrected interval; the verdict is read from it, in this precedence:
    equivalent when it lies inside ±margin (even if it excludes 0: a real but negligible difference), better
    when it excludes 0, undetermined otherwise."""

    ahead: str
    behind: str
    difference: Interval
    verdict: Verdict
    p_adjusted: float  # Bonferroni-adjusted two-sided p of no difference: < alpha exactly when the interval excludes 0
    margin: float
    comparisons: int  # pairs in the family
    alpha: float
    components: Components
    seeds: int  # the fewer seed runs of the two
    rows: int

    @property
    def winner(self) -> str | None:
        return self.ahead if self.verdict == "better" else None

    @property
    def needed_seeds(self) -> int | None:
        """Seed runs per strategy that would decide this pair with probability ``POWER`` if the observed
        difference and variance components are the truth; None when decided, or not within ``MAX_SEEDS``."""
        if self.verdict != "undetermined":
            return None
        return _first_decisive(self, np.arange(self.seeds + 1, MAX_SEEDS + 1),
                               lambda seeds: self.components.variance(seeds, self.rows))

    @property
    def needed_examples(self) -> int | None:
        """Held-out rows (at today's seeds) that would decide this pair with probability ``POWER`` at the
        observed difference and variance components; None when decided, or when the seed term alone is
        too large for any number of rows."""
        if self.verdict != "undetermined":
            return None
        candidates = np.unique(np.ceil(self.rows * np.geomspace(1.001, 1e4, 4000)).astype(int))
        return _first_decisive(self, candidates, lambda rows: self.components.variance(self.seeds, rows))


@dataclass(frozen=True)
class Baseline:
    """What a predictor that ignores its input scores on these held-out labels."""

    majority_class: int | None  # None for regression (the constant predictor is the label mean), or when unknown
    majority: float | None  # always predicting the majority class (regression: the mean label); None: no labels
    chance: float  # guessing a class uniformly at random (expected value); regression: 0
    description: str


@dataclass(frozen=True)
class Analysis:
    """Everything the reports and recommend need to state conclusions with their confidence."""

    metric: str
    margin: float
    alpha: float
    rows: int  # held-out rows every analysed seed run predicted
    rows_left_out: int  # labelled rows some analysed seed run lacks
    seeds: dict[str, int]
    scores: dict[str, Interval]  # best estimate first
    pairs: list[PairVerdict]  # every pair, in ranking order
    top_group: list[str]  # the best and every strategy not shown worse than it
    baseline: Baseline
    versus_majority: dict[str, Interval]  # score − majority predictor, paired on rows; level 1 − 2·alpha/strategies
    # (empty when the majority class is unknown: analyse_scores)
    learned: dict[str, bool]  # beats the majority predictor (where known) and chance, one-sided, corrected over strategies
    excluded: dict[str, str]  # strategies left out, and why
    method: str  # one sentence a report can print about the intervals
    correction: str  # one sentence about the multiplicity correction

    @property
    def ranking(self) -> list[str]:
        return list(self.scores)

    def pair(self, a: str, b: str) -> PairVerdict:
        """The verdict on ``a`` and ``b``, in either order."""
        return next(p for p in self.pairs if {p.ahead, p.behind} == {a, b})


# ---- metrics on confusion matrices (rows: gold class, columns: predicted class), vectorised over leading axes

def confusion_metric(metric: str, confusion: np.ndarray) -> np.ndarray:
    """``metric`` of every confusion matrix in ``confusion`` (shape (..., K, K)); the same conventions as
    peftbench.metrics (a class never predicted has precision 0, constant predictions have MCC 0)."""
    confusion = confusion.astype(float)
    true_positive = np.diagonal(confusion, axis1=-2, axis2=-1)
    predicted = confusion.sum(-2)
    actual = confusion.sum(-1)
    total = actual.sum(-1)
    if metric == "accuracy":
        return true_positive.sum(-1) / total
    if metric == "mcc":
        numerator = true_positive.sum(-1) * total - (predicted * actual).sum(-1)
        denominator = np.sqrt(total**2 - (predicted**2).sum(-1)) * np.sqrt(total**2 - (actual**2).sum(-1))
        return _divide(numerator, denominator)
    precision = _divide(true_positive, predicted)
    recall = _divide(true_positive, actual)
    if metric == "precision":
        return precision.mean(-1)
    if metric == "recall":
        return recall.mean(-1)
    f1 = _divide(2 * precision * recall, precision + recall)
    if metric == "macro_f1":
        return f1.mean(-1)
    if metric == "f1":
        return f1[..., 1]
    raise ValueError(f"no confusion-matrix metric {metric!r}")


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0."""
    return np.divide(numerator, denominator, out=np.zeros(np.broadcast(numerator, denominator).shape),
                     where=denominator > 0)


def pseudo_values(metric: str, predictions: np.ndarray, labels: np.ndarray, num_labels: int) -> np.ndarray:
    """Per-row values whose mean is ``metric`` on these rows and whose spread gives its row-sampling variance:
    correctness for accuracy (exact); for the others the jackknife's n·f − (n − 1)·f(without the row), shifted
    so their mean is the plug-in metric. Leaving one row out changes one cell of the confusion matrix, so the
    jackknife costs one metric per distinct (gold, predicted) cell, not one per row."""
    if metric == "accuracy":
        return (predictions == labels).astype(float)  # the jackknife's exact answer
    n = len(labels)
    if metric == "pearson":
        whole, without = _pearson_jackknife(predictions.astype(float), labels.astype(float))
    else:
        cells = labels * num_labels + predictions
        counts = np.bincount(cells, minlength=num_labels**2)
        present = np.flatnonzero(counts)
        minus_one = np.tile(counts, (len(present), 1))
        minus_one[np.arange(len(present)), present] -= 1
        shape = (num_labels, num_labels)
        whole = float(confusion_metric(metric, counts.reshape(shape)))
        without_cell = np.zeros(num_labels**2)
        without_cell[present] = confusion_metric(metric, minus_one.reshape(-1, *shape))
        without = without_cell[cells]
    values = n * whole - (n - 1) * without
    return values - values.mean() + whole


def _pearson_jackknife(predictions: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Pearson's r on all rows, and without each row (from the sums, O(n)); 0 for constant predictions."""
    x, y = predictions - predictions.mean(), labels - labels.mean()

    def correlation(n, sx, sy, sxx, syy, sxy):
        covariance = sxy - sx * sy / n
        spread = np.sqrt(np.clip(sxx - sx**2 / n, 0, None) * np.clip(syy - sy**2 / n, 0, None))
        return _divide(covariance, spread)

    sums = (x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum())
    whole = float(correlation(len(x), *sums))
    without = correlation(len(x) - 1, *(total - row for total, row in zip(sums, (x, y, x * x, y * y, x * y))))
    return whole, without


# ---- variance components

def satterthwaite(terms: np.ndarray, dfs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sums over the last axis of independent variance estimates (``terms``, each with ``dfs`` degrees of
    freedom), and the Welch–Satterthwaite degrees of freedom of each sum: (sum)² / Σ term²/df. A term with
    no degrees of freedom must be 0 (a deterministic predictor's seed term)."""
    variance = terms.sum(-1)
    spread = np.where(dfs > 0, terms**2 / np.where(dfs > 0, dfs, 1), 0.0).sum(-1)
    df = np.divide(variance**2, spread, out=np.full(np.shape(variance), np.inf), where=spread > 0)
    return variance, df


@dataclass(frozen=True)
class _Sources:
    """Every compared predictor's pseudo-values (seed runs × rows), reduced to what contrasts need: the
    strategies, then the majority predictor, then a predictor that scores 0 on every row, so that one
    strategy's score is its difference from that zero."""

    seeds: np.ndarray  # seed runs of each source
    estimate: np.ndarray  # mean over seed runs of the metric
    seed_variance: np.ndarray  # variance over seed runs of the metric (0 for a single run)
    interaction: np.ndarray  # seed × row mean square, the residual of the two-way layout (0 for a single run)
    covariance: np.ndarray  # over rows, of the sources' per-row means over seed runs
    rows: int

    @classmethod
    def of(cls, values: Sequence[np.ndarray]) -> "_Sources":
        seeds, estimate, seed_variance, interaction, row_means = [], [], [], [], []
        for runs in values:
            count, rows = runs.shape
            scores, means = runs.mean(1), runs.mean(0)
            residual = runs - scores[:, None] - means[None, :] + runs.mean()
            seeds.append(count)
            estimate.append(scores.mean())
            seed_variance.append(scores.var(ddof=1) if count > 1 else 0.0)
            interaction.append((residual**2).sum() / ((count - 1) * (rows - 1)) if count > 1 else 0.0)
            row_means.append(means)
        centred = np.stack(row_means)
        centred -= centred.mean(1, keepdims=True)
        # einsum, not np.cov: a multithreaded BLAS call this small is slower, and far slower on a busy machine
        covariance = np.einsum("ir,jr->ij", centred, centred) / (rows - 1)
        return cls(np.array(seeds, dtype=float), np.array(estimate), np.array(seed_variance), np.array(interaction),
                   covariance, rows)

    def row_variance(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """The variance over rows of source ``first``'s per-row means minus source ``second``'s: the paired row term."""
        return (self.covariance[first, first] + self.covariance[second, second]
                - 2 * self.covariance[first, second])

    def contrasts(self, first: np.ndarray, second: np.ndarray, level: float,
                  method: str) -> list[tuple[Interval, float]]:
        """Intervals at ``level`` of source ``first`` − source ``second`` (elementwise), each with its two-sided
        p of no difference."""
        n, r1, r2 = self.rows, self.seeds[first], self.seeds[second]
        row_variance = self.row_variance(first, second)
        interaction = [-self.interaction[first] / (n * r1), -self.interaction[second] / (n * r2)]
        # the unbiased row term; where it is negative (no row effect beyond the interaction) it counts as 0
        keep = row_variance / n + interaction[0] + interaction[1] > 0
        row_terms = [keep * row_variance / n, keep * interaction[0], keep * interaction[1]]
        dfs = np.stack([r1 - 1, r2 - 1, np.full_like(r1, n - 1), (r1 - 1) * (n - 1), (r2 - 1) * (n - 1)], -1)
        return _t_intervals(self.estimate[first] - self.estimate[second], self.seeds, self.seed_variance,
                            first, second, row_terms, dfs, level, method)

    def components(self, first: np.ndarray, second: np.ndarray) -> list[Components]:
        """The variance components of source ``first`` − source ``second`` (elementwise), for planning."""
        seed = np.clip(self.seed_variance - self.interaction / self.rows, 0, None)
        between_rows = np.clip(self.row_variance(first, second) - self.interaction[first] / self.seeds[first]
                               - self.interaction[second] / self.seeds[second], 0, None)
        return [Components((float(seed[i]), float(seed[j])),
                           (float(self.interaction[i]), float(self.interaction[j])), float(rows))
                for i, j, rows in zip(first, second, between_rows)]


def _t_intervals(estimate: np.ndarray, seeds: np.ndarray, seed_variance: np.ndarray, first: np.ndarray,
                 second: np.ndarray, row_terms: list[np.ndarray], dfs: np.ndarray, level: float,
                 method: str) -> list[tuple[Interval, float]]:
    """Student t intervals at ``level`` of contrasts first − second whose variance is each source's seed variance
    over its seed runs plus ``row_terms``, the last of ``dfs`` theirs (the first two: the seed terms'), each with
    its two-sided p of no difference."""
    r1, r2 = seeds[first], seeds[second]
    own = np.stack([seed_variance[first] / r1, seed_variance[second] / r2, *row_terms], -1)
    variance, df = satterthwaite(own, dfs)
    # From 3 seeds a strategy's seed variance (2 df) is often far too small by chance, and Satterthwaite's
    # formula then grants many degrees of freedom exactly when the standard error is too small (1.7 times the
    # nominal error rate at alpha/21, 4.9 times at alpha/300; docs/statistics.md). So the degrees of freedom
    # are also computed as if each seed variance were at least the pooled one, and the fewer are used.
    pooled_dfs = np.clip(seeds - 1, 0, None)
    pooled = float((pooled_dfs * seed_variance).sum() / pooled_dfs.sum()) if pooled_dfs.sum() > 0 else 0.0
    floored = np.where(seeds > 1, np.maximum(seed_variance, pooled), 0.0)
    _, pooled_df = satterthwaite(np.stack([floored[first] / r1, floored[second] / r2, *row_terms], -1), dfs)
    df = np.minimum(df, pooled_df)
    error = np.sqrt(np.clip(variance, 0, None))
    half = stats.t.ppf(0.5 + level / 2, df) * error
    ratio = np.divide(np.abs(estimate), error, out=np.where(estimate == 0, 0.0, np.inf), where=error > 0)
    p = 2 * stats.t.sf(ratio, df)
    return [(Interval(float(e), float(e - h), float(e + h), float(s), float(d), level, method), float(q))
            for e, h, s, d, q in zip(estimate, half, error, df, p)]


@dataclass(frozen=True)
class _Summaries:
    """Every compared strategy's seed scores when their per-row predictions were not recorded (accuracy only),
    reduced to what contrasts need, then a source that scores 0 with no variance, as in :class:`_Sources`.

    The rows' term cannot be estimated from scores, but it can be bounded: any per-row mean of correctness with
    mean p varies over rows by at most p(1 − p) (its values lie in [0, 1]), so p(1 − p)/rows bounds a score's row
    term, and it bounds it for scores interpolated between two data sizes too. Differences are not paired on
    rows: strategies that err on the same rows (the usual case: they agree on about 88%) make a difference vary
    less than this says, so these intervals are wider than the per-row ones (docs/statistics.md)."""

    seeds: np.ndarray
    estimate: np.ndarray
    seed_variance: np.ndarray
    row_bound: np.ndarray  # p(1 − p) of each source's mean score (0 for the zero source)
    rows: int

    @classmethod
    def of(cls, scores: Sequence[np.ndarray], rows: int) -> "_Summaries":
        seeds = np.array([len(s) for s in scores] + [1], dtype=float)
        estimate = np.array([s.mean() for s in scores] + [0.0])
        seed_variance = np.array([s.var(ddof=1) if len(s) > 1 else 0.0 for s in scores] + [0.0])
        row_bound = np.append(estimate[:-1] * (1 - estimate[:-1]), 0.0)
        return cls(seeds, estimate, seed_variance, row_bound, rows)

    def contrasts(self, first: np.ndarray, second: np.ndarray, level: float,
                  method: str) -> list[tuple[Interval, float]]:
        n = self.rows
        row_terms = [self.row_bound[first] / n, self.row_bound[second] / n]
        dfs = np.stack([self.seeds[first] - 1, self.seeds[second] - 1, np.full(len(first), n - 1.0),
                        np.full(len(first), n - 1.0)], -1)
        return _t_intervals(self.estimate[first] - self.estimate[second], self.seeds, self.seed_variance,
                            first, second, row_terms, dfs, level, method)

    def components(self, first: np.ndarray, second: np.ndarray) -> list[Components]:
        """For planning: the seed variances (the interaction inside them), and the bounds of the rows' terms."""
        return [Components((float(self.seed_variance[i]), float(self.seed_variance[j])), (0.0, 0.0),
                           float(self.row_bound[i] + self.row_bound[j])) for i, j in zip(first, second)]


# ---- verdicts and planning

def verdict_of(difference: Interval, margin: float) -> Verdict:
    """Equivalent when the interval lies inside ±margin (two one-sided tests, Schuirmann 1987), else better
    when it excludes 0, else undetermined."""
    if -margin < difference.low and difference.high < margin:
        return "equivalent"
    if difference.low > 0 or difference.high < 0:
        return "better"
    return "undetermined"


def decision_probability(difference: float, standard_error: np.ndarray, critical: np.ndarray,
                         margin: float) -> np.ndarray:
    """The chance that the interval estimate ± critical·standard_error, with the estimate normal around
    ``difference``, decides: excludes 0 (better), or lies inside ±margin (equivalent), or both."""
    def below(x):
        return stats.norm.cdf((x - abs(difference)) / standard_error)

    half = critical * standard_error
    inner = np.clip(margin - half, 0, None)  # an estimate within ±inner is called equivalent
    excludes_zero = 1 - below(half) + below(-half)
    inside = below(inner) - below(-inner)
    both = np.where(inner > half, below(inner) - below(half) + below(-half) - below(-inner), 0.0)
    return excludes_zero + inside - both


def _first_decisive(pair: PairVerdict, candidates: np.ndarray, variance_at) -> int | None:
    """The first of ``candidates`` (increasing) at which ``pair`` would be decided with probability POWER."""
    variance, df = variance_at(candidates)
    critical = stats.t.ppf(1 - pair.alpha / (2 * pair.comparisons), df)
    decided = decision_probability(pair.difference.estimate, np.sqrt(variance), critical, pair.margin) >= POWER
    return int(candidates[np.argmax(decided)]) if decided.any() else None


def smallest_margin(standard_error: float, df: float, comparisons: int, alpha: float = ALPHA,
                    probability: float = 0.5) -> float:
    """The smallest margin at which two truly equal strategies, whose difference has this standard error,
    are called equivalent with ``probability`` in a family of ``comparisons`` pairs: below it, "equivalent"
    is out of the budget's reach and "undetermined" is the honest common answer."""
    critical = float(stats.t.ppf(1 - alpha / (2 * comparisons), df))
    return (critical + float(stats.norm.ppf(0.5 + probability / 2))) * standard_error


# ---- baselines

def baseline(metric: str, labels: np.ndarray, num_labels: int) -> Baseline:
    """The majority-class predictor's score on these labels, and chance (uniform guessing, expected)."""
    if metric == "pearson":
        return Baseline(None, 0.0, 0.0, "a constant prediction (the mean label) and chance correlate 0")
    counts = np.bincount(labels, minlength=num_labels)
    majority = int(np.argmax(counts))
    score = float(confusion_metric(metric, _confusion(np.full_like(labels, majority), labels, num_labels)))
    share = counts / counts.sum()
    guess = 1 / num_labels  # guessing uniformly: each class's expected precision is its share, recall 1/K
    f1 = _divide(2 * share * guess, share + guess)
    chance = {"accuracy": guess, "recall": guess, "precision": guess, "mcc": 0.0,
              "macro_f1": float(f1.mean()), "f1": float(f1[1]) if num_labels == 2 else 0.0}[metric]
    return Baseline(majority, score, chance,
                    f"always predicting class {majority} ({share[majority]:.1%} of the rows) scores {score:.3f}; "
                    f"guessing uniformly among {num_labels} classes, {chance:.3f}")


def _confusion(predictions: np.ndarray, labels: np.ndarray, num_labels: int) -> np.ndarray:
    return np.bincount(labels * num_labels + predictions, minlength=num_labels**2).reshape(num_labels, num_labels)


# ---- the entry points

def split_to_rank(splits_by_run: Iterable[Collection[str]]) -> str:
    """The split every consumer ranks on: held-out ("test") when every seed run has held-out predictions,
    else dev, so the terminal ranking and the report never rank on different splits."""
    return "test" if all("test" in splits for splits in splits_by_run) else "dev"


@dataclass(frozen=True)
class RowScores:
    """Every analysed strategy's seed runs as per-row values whose mean over rows is the metric (seed runs ×
    rows, seed runs in the order given), the majority predictor's, and the baseline: what :func:`analyse_rows`
    concludes from. Built from predictions (:func:`row_scores`), or blended between two data sizes."""

    metric: str
    values: dict[str, np.ndarray]
    majority: np.ndarray  # the majority predictor's per-row values
    baseline: Baseline
    rows_left_out: int
    excluded: dict[str, str]
    method: str

    def blend(self, other: "RowScores", weight: float) -> "RowScores":
        """Each seed run's per-row values interpolated ``weight`` of the way to ``other``'s (the same held-out rows,
        the same seeds in the same order), for the strategies both have: e.g. a training-set size between two
        measured ones. An interpolated score is the mean over rows of the interpolated values, so the engine's
        variance components of those values are the interpolated scores' (sampling seeds and rows as before)."""
        shared = [name for name in self.values if name in other.values]
        if any(self.values[name].shape != other.values[name].shape for name in shared):
            raise ValueError("blending needs the same seed runs and rows on both sides")
        values = {name: (1 - weight) * self.values[name] + weight * other.values[name] for name in shared}
        return replace(self, values=values, majority=(1 - weight) * self.majority + weight * other.majority,
                       method=f"{self.method}; each seed run's per-row values interpolated between two sizes")


def row_scores(predictions: Mapping[str, Sequence[RowValues]], labels: RowValues, metric: str,
               num_labels: int | None = None) -> RowScores:
    """The per-row values of every strategy with at least 2 seed runs (one run cannot show seed variance; such
    strategies are listed in ``excluded``) on the held-out rows of ``labels`` that every analysed run predicted;
    ``num_labels`` defaults to the largest class seen, plus one."""
    if metric not in METRICS:
        raise ValueError(f"no confidence analysis for {metric!r}; it knows {', '.join(METRICS)}")
    excluded = {name: f"{len(runs)} seed run{'s' if len(runs) != 1 else ''}: seed variance needs 2 or more"
                for name, runs in predictions.items() if len(runs) < 2}
    runs = {name: list(group) for name, group in predictions.items() if name not in excluded}
    if not runs:
        raise ValueError("no strategy has 2 or more seed runs to analyse")
    ids = _common_ids(labels, [run for group in runs.values() for run in group])
    gold = _aligned(labels, ids)
    if metric == "pearson":
        gold = gold.astype(float)
        base = baseline(metric, gold, 1)
        majority = np.full_like(gold, gold.mean())
    else:
        gold = gold.astype(np.int64)
        num_labels = num_labels or 1 + max(int(gold.max()), *(int(r.values.max()) for g in runs.values() for r in g))
        if (reason := undefined_reason(metric, gold, num_labels)) is not None:
            raise ValueError(f"{metric} is undefined on these held-out labels: {reason}")
        base = baseline(metric, gold, num_labels)
        majority = np.full_like(gold, base.majority_class)

    def values_of(predicted: np.ndarray) -> np.ndarray:
        return pseudo_values(metric, predicted.astype(gold.dtype), gold, num_labels or 1)

    values = {name: np.stack([values_of(_aligned(run, ids)) for run in group]) for name, group in runs.items()}
    method = METHOD.format(pseudo="correctness" if metric == "accuracy" else "jackknife pseudo-values")
    return RowScores(metric, values, values_of(majority), base, len(labels.ids) - len(ids), excluded, method)


def analyse(predictions: Mapping[str, Sequence[RowValues]], labels: RowValues, metric: str,
            margin: float | None = None, alpha: float = ALPHA, num_labels: int | None = None) -> Analysis:
    """Score intervals, corrected pairwise verdicts, the top group and the learned test for every strategy
    with at least 2 seed runs (:func:`row_scores`). ``predictions`` maps a strategy to its seed runs' predictions
    on the held-out rows of ``labels``; ``margin`` is the equivalence margin in the metric's units (default:
    ``DEFAULT_MARGINS``)."""
    return analyse_rows(row_scores(predictions, labels, metric, num_labels), margin, alpha)


def analyse_rows(scores: RowScores, margin: float | None = None, alpha: float = ALPHA) -> Analysis:
    """:func:`analyse` on per-row values already computed (or blended)."""
    values = scores.values
    ranked = sorted(values, key=lambda name: -values[name].mean())
    rows = scores.majority.shape[-1]
    sources = _Sources.of([*(values[name] for name in ranked), scores.majority[None], np.zeros((1, rows))])
    return _conclude(sources, ranked, scores.metric, margin, alpha, scores.method, scores.baseline, rows,
                     scores.rows_left_out, scores.excluded, majority=len(ranked))


def analyse_scores(scores: Mapping[str, Sequence[float]], rows: int, metric: str, margin: float | None = None,
                   alpha: float = ALPHA, num_labels: int = 2) -> Analysis:
    """:func:`analyse` for seed runs that recorded their scores on ``rows`` held-out rows but not their per-row
    predictions (results.json files written before those were kept, or seed scores interpolated between two
    data sizes): the rows' term is bounded by p(1 − p)/rows, not estimated, and not paired across strategies
    (:class:`_Summaries`), so the intervals are conservative. Accuracy only, the one metric with such a bound;
    without gold labels the majority class is unknown, so "learned" means "beats chance"."""
    if metric != "accuracy":
        raise ValueError(f"without per-row predictions the held-out rows' sampling term can be bounded for "
                         f"accuracy only (p(1 − p)/rows), not for {metric}")
    margin = DEFAULT_MARGINS[metric] if margin is None else margin
    excluded = {name: f"{len(runs)} seed run{'s' if len(runs) != 1 else ''}: seed variance needs 2 or more"
                for name, runs in scores.items() if len(runs) < 2}
    kept = {name: np.asarray(runs, dtype=float) for name, runs in scores.items() if name not in excluded}
    if not kept:
        raise ValueError("no strategy has 2 or more seed runs to analyse")
    if any(((runs < 0) | (runs > 1)).any() for runs in kept.values()):
        raise ValueError("accuracies must lie in [0, 1]")
    ranked = sorted(kept, key=lambda name: -kept[name].mean())
    sources = _Summaries.of([kept[name] for name in ranked], rows)
    chance = 1 / num_labels
    base = Baseline(None, None, chance, f"the majority class is unknown (no gold labels recorded); guessing "
                                        f"uniformly among {num_labels} classes scores {chance:.3f}")
    return _conclude(sources, ranked, metric, margin, alpha, SUMMARY_METHOD, base, rows, 0, excluded, majority=None)


def _conclude(sources: "_Sources | _Summaries", ranked: list[str], metric: str, margin: float | None, alpha: float,
              method: str, base: Baseline, rows: int, rows_left_out: int, excluded: dict[str, str],
              majority: int | None) -> Analysis:
    """The analysis of the ``ranked`` strategies (sources 0 … K − 1, best estimate first; the last source
    scores 0 everywhere, and source ``majority``, where known, is the majority predictor)."""
    margin = DEFAULT_MARGINS[metric] if margin is None else margin
    strategies = len(ranked)
    every, zero = np.arange(strategies), np.full(strategies, len(sources.seeds) - 1)
    family = math.comb(strategies, 2)
    correction = CORRECTION.format(pairs=family, level=1 - alpha)
    scores = {name: interval for name, (interval, _) in zip(ranked, sources.contrasts(every, zero, 1 - alpha, method))}

    ahead, behind = np.triu_indices(strategies, 1)  # ranked order: ahead has the higher estimate
    differences = sources.contrasts(ahead, behind, 1 - alpha / max(family, 1), f"{method}; {correction}")
    pairs = [PairVerdict(ranked[i], ranked[j], interval, verdict_of(interval, margin), min(1.0, p * family),
                         margin, family, alpha, components, int(min(sources.seeds[i], sources.seeds[j])), rows)
             for i, j, (interval, p), components in zip(ahead, behind, differences, sources.components(ahead, behind))]
    top_group = [ranked[0]] + [p.behind for p in pairs if p.ahead == ranked[0] and p.verdict != "better"]

    # learned: above the majority predictor (paired) and above chance, each one-sided at alpha/strategies; a
    # strategy must pass both (an intersection-union test needs no further correction). Without the labels,
    # above chance alone.
    one_sided = 1 - 2 * alpha / strategies
    lower = sources.contrasts(every, zero, one_sided, method)
    versus_majority = {} if majority is None else {
        name: interval for name, (interval, _) in
        zip(ranked, sources.contrasts(every, np.full(strategies, majority), one_sided, method))}
    learned = {name: (majority is None or versus_majority[name].low > 0) and score.low > base.chance
               for name, (score, _) in zip(ranked, lower)}

    return Analysis(metric, margin, alpha, rows, rows_left_out,
                    {name: int(sources.seeds[i]) for i, name in enumerate(ranked)}, scores, pairs, top_group, base,
                    versus_majority, learned, excluded, method, correction)


# ---- optimism: gaps that are 0 where nothing but noise is at work

@dataclass(frozen=True)
class Excess:
    """A gap that noise alone keeps near 0, its standard error and degrees of freedom, and whether it exceeds
    that noise: beyond the t critical value at alpha / ``tests`` (Bonferroni over the gaps of its kind reported
    together), one-sided where only one sign has a cause."""

    estimate: float
    standard_error: float
    df: float
    beyond_noise: bool


def excess(estimate: float, standard_error: float, df: float, tests: int, two_sided: bool,
           alpha: float = ALPHA) -> Excess:
    size = abs(estimate) if two_sided else estimate
    critical = float(stats.t.ppf(1 - alpha / (tests * (2 if two_sided else 1)), df))
    return Excess(estimate, standard_error, df, standard_error > 0 and size > critical * standard_error)


@dataclass(frozen=True)
class Selection:
    """One strategy's chosen configuration: the dev score of the trial that chose it, its seed re-runs' dev
    scores, and which re-run is that trial itself, rescored (None when none is)."""

    trial: float
    seed_scores: Sequence[float]
    trial_run: int | None


def selection_optimism(selections: Mapping[str, Selection], alpha: float = ALPHA) -> dict[str, Excess]:
    """Each chosen trial's dev score minus the mean dev score of its configuration's seed re-runs: how much
    choosing the best of several trials on dev flattered it, one-sided (selection can only flatter), Bonferroni
    over the strategies. Every run is scored on the same dev rows, so their sampling cancels and the seed-to-seed
    spread alone is noise: without selection the trial is one more draw of the re-runs' distribution. It is
    tested against the re-runs that are not the trial (a rescored trial cannot be its own noise), with their seed
    variance pooled over the strategies, or the strategy's own where that is larger (with its own degrees of
    freedom): 3 seeds leave one or two runs per strategy, too few alone. Strategies whose re-runs besides the
    trial number fewer than 1 are left out."""
    others = {name: np.delete(np.asarray(found.seed_scores, dtype=float),
                              [] if found.trial_run is None else [found.trial_run])
              for name, found in selections.items()}
    others = {name: runs for name, runs in others.items() if len(runs) >= 1 and len(selections[name].seed_scores) >= 2}
    pooled_df = sum(len(runs) - 1 for runs in others.values())
    if pooled_df == 0:
        return {}
    pooled = sum(runs.var(ddof=1) * (len(runs) - 1) for runs in others.values() if len(runs) > 1) / pooled_df
    found = {}
    for name, runs in others.items():
        own = runs.var(ddof=1) if len(runs) > 1 else 0.0
        variance, df = (own, len(runs) - 1) if own > pooled else (pooled, pooled_df)
        scores = np.asarray(selections[name].seed_scores, dtype=float)
        # the figure is the trial minus the mean of every re-run, a fixed multiple of the trial minus the others
        share = 1.0 if selections[name].trial_run is None else len(runs) / len(scores)
        error = share * math.sqrt(variance * (1 + 1 / len(runs)))
        found[name] = excess(selections[name].trial - float(scores.mean()), error, df, len(others), False, alpha)
    return found


def split_difference(dev: Interval, heldout: Interval, tests: int, alpha: float = ALPHA) -> Excess:
    """The seed re-runs' mean dev score minus their mean held-out score, against both scores' noise (seeds and
    rows: each interval's standard error), combined as if independent, on the fewer degrees of freedom. That
    overstates the noise a little (a seed run that does well on one split tends to do well on the other), so a
    flagged difference is one the splits themselves make. Two-sided: either split can be the harder."""
    return excess(dev.estimate - heldout.estimate, math.hypot(dev.standard_error, heldout.standard_error),
                  min(dev.df, heldout.df), tests, True, alpha)


def _common_ids(labels: RowValues, runs: Iterable[RowValues]) -> np.ndarray:
    """The labelled rows every run predicted, in the labels' order."""
    ids = np.asarray(labels.ids)
    for run in runs:
        if not np.array_equal(run.ids, ids):
            ids = ids[np.isin(ids, run.ids)]
    if len(ids) < 3:
        raise ValueError(f"the seed runs share {len(ids)} labelled rows: too few to analyse")
    return ids


def _aligned(values: RowValues, ids: np.ndarray) -> np.ndarray:
    """``values`` in the order of ``ids`` (all of which it has)."""
    if np.array_equal(values.ids, ids):
        return np.asarray(values.values)
    order = np.argsort(values.ids, kind="stable")
    return np.asarray(values.values)[order[np.searchsorted(np.asarray(values.ids)[order], ids)]]
