"""Expected validation performance against search budget: the best dev score a strategy should be expected
to reach with n trials of random search, n = 1 … N, estimated from the N trials its study ran.

Dodge et al. (2019), "Show Your Work: Improved Reporting of Experimental Results", EMNLP, arXiv 1909.03004:
report E[max of n i.i.d. draws of the dev score] as a curve over n rather than one tuned number, since
a strategy that needs many trials can look worse or better depending on the budget. With the N observed
scores sorted, v_(1) ≤ … ≤ v_(N), their estimator plugs in the empirical CDF and samples *with replacement*::

    E_n = Σ_i v_(i) · [(i/N)^n − ((i−1)/N)^n]

(``_cdf_with_replacement(i, n, N) = (i/N)**n`` in github.com/dodgejesse/show_your_work). Tang et al. (2020),
"Showing Your Work Doesn't Always Work", ACL, arXiv 2004.13705, show that this is biased low (for n = N it
is below the observed maximum) and give the unbiased estimator, sampling *without replacement* (n ≤ N)::

    E_n = Σ_i v_(i) · C(i−1, n−1) / C(N, n)

(``CorrectedMeanMaxEstimator`` in github.com/castorini/meanmax, meanmax/stats/max.py): C(i−1, n−1)/C(N, n)
is the probability that v_(i) is the largest of n values drawn without replacement, so E_n is exactly the
mean of max(S) over all C(N, n) subsets S of size n, which is unbiased for E[max of n draws]. E_N is the
observed best. Both weightings hold with ties: the weights of a run of equal values sum to the same as
the empirical CDF's jump there.

The spread is the standard deviation of the max under the same weights (the same as ``_compute_variance``
in show_your_work, there named a variance but square-rooted)::

    sd_n = sqrt(E[max²] − E[max]²) = sqrt(Σ_i w_i (v_(i) − E_n)²)      (Σ_i w_i = 1)

It describes how much the best of n trials varies from one search to the next *when drawn from these N*;
without replacement it is 0 at n = N, which says nothing about a new search. It is not a confidence
interval for E_n.

Which trials qualify is decided by :func:`draws`: the estimators assume i.i.d. draws from the search
space, which holds for ``--sampler random`` and, for TPE, only for the random start-up trials.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from peftbench.records import ComparisonRecord, StrategyRecord, TrialRecord

WITHIN = 0.005  # "trials to within 0.5 pt of the best": 0.5 points of a metric in [0, 1] (or [−1, 1])
MIN_DRAWS = 2  # a curve needs at least two draws; one gives E_1 = its value and nothing else


# ----------------------------------------------------------------------------- the estimators
def max_weights(count: int, n: int, replacement: bool = False) -> list[float]:
    """P(the i-th smallest of ``count`` values is the max of ``n`` draws), i = 1 … count.

    Without replacement (Tang et al. 2020): C(i−1, n−1) / C(count, n), n ≤ count.
    With replacement (Dodge et al. 2019): (i/count)^n − ((i−1)/count)^n, any n ≥ 1.
    """
    if count < 1 or n < 1:
        raise ValueError(f"need at least one value and one draw, got {count} values and n = {n}")
    if replacement:
        return [(i / count) ** n - ((i - 1) / count) ** n for i in range(1, count + 1)]
    if n > count:
        raise ValueError(f"without replacement n must be at most the {count} values, got n = {n}")
    total = math.comb(count, n)
    return [math.comb(i - 1, n - 1) / total for i in range(1, count + 1)]


@dataclass(frozen=True)
class MaxEstimate:
    """Expected best of ``n`` draws and the standard deviation of that best."""

    n: int
    mean: float
    sd: float


def expected_max(values: Sequence[float], n: int, replacement: bool = False) -> MaxEstimate:
    """E[max of ``n`` draws] from ``values`` and its sd, with the weights of :func:`max_weights`."""
    ordered = sorted(float(v) for v in values)
    weights = max_weights(len(ordered), n, replacement)
    mean = math.fsum(w * v for w, v in zip(weights, ordered))
    variance = math.fsum(w * (v - mean) ** 2 for w, v in zip(weights, ordered))  # = E[max²] − E[max]²
    return MaxEstimate(n, mean, math.sqrt(max(variance, 0.0)))


def expected_max_curve(values: Sequence[float], replacement: bool = False) -> list[MaxEstimate]:
    """:func:`expected_max` for n = 1 … len(values)."""
    return [expected_max(values, n, replacement) for n in range(1, len(values) + 1)]


def trials_to_within(curve: Sequence[MaxEstimate], tolerance: float = WITHIN) -> int | None:
    """The smallest n whose expected best is within ``tolerance`` of the last point's (E_N)."""
    if not curve:
        return None
    target = curve[-1].mean - tolerance - 1e-12  # float slack: E_n = E_N − 0.005 exactly counts as within
    return next(point.n for point in curve if point.mean >= target)


# ----------------------------------------------------------------------------- which trials are draws
def startup_trials(results: ComparisonRecord) -> int:
    """TPE's ``n_startup_trials`` for this comparison: the number of finished trials before which TPE
    samples at random, as the comparison recorded it (``settings.startup_trials``)."""
    return int(results.settings["startup_trials"])


def origin(trial: TrialRecord) -> int:
    """The trial number its parameters were drawn at: a retry re-runs the parameters of the killed trial."""
    return trial.retry_of if trial.retry_of is not None else trial.number


def trial_score(trial: TrialRecord) -> float | None:
    """A complete trial's value (its best dev score); a pruned one's best dev score before it was pruned."""
    if trial.state == "COMPLETE":
        return trial.value
    if trial.state == "PRUNED" and trial.intermediate:
        return max(value for _, value in trial.intermediate)
    return None


@dataclass(frozen=True)
class Draws:
    """One strategy's trials sorted into those the estimator may use and those it may not."""

    strategy: str
    used: dict[int, float]  # trial number → dev score, the i.i.d. draws
    pruned: list[int]  # of ``used``: pruned trials, entered at their best dev score before pruning
    defaults: dict[int, float]  # the defaults trial (not a draw) → its dev score
    guided: list[int]  # TPE trials after the start-up: chosen by the model, not drawn
    failed: list[int]  # no score

    @property
    def values(self) -> list[float]:
        return list(self.used.values())


def draws(results: ComparisonRecord, strategy: StrategyRecord) -> Draws:
    """Which of a strategy's trials are i.i.d. draws from its search space.

    - The first trial of every study runs the strategy's defaults (``settings.first_trial == "defaults"``,
      assumed when a file does not say): fixed, not drawn, so left out.
    - ``--sampler random``: every other trial is a draw.
    - ``--sampler tpe``: a trial is a draw only while TPE still samples at random, i.e. while fewer than
      :func:`startup_trials` trials had finished (complete or pruned) when its parameters were drawn. With
      one worker that is the number of complete or pruned trials drawn before it (by :func:`origin`);
      with several, fewer had finished, so the rule can only miss a random trial, never admit a TPE one.
    - Pruned trials enter at the best dev score they reached before pruning: a lower bound of what they
      would have reached, so the curve is conservative. Leaving them out would drop exactly the draws that
      went badly and make a small budget look better than it is.
    - Failed trials have no score and are left out (their number is reported).
    """
    sampler = results.settings.get("sampler", "tpe")
    defaults_first = results.settings.get("first_trial", "defaults") == "defaults"
    finished = [origin(t) for t in strategy.trials if t.state in ("COMPLETE", "PRUNED")]
    startup = startup_trials(results)
    used, pruned, defaults, guided, failed = {}, [], {}, [], []
    for trial in sorted(strategy.trials, key=lambda t: t.number):
        score = trial_score(trial)
        if score is None:
            failed.append(trial.number)
        elif defaults_first and origin(trial) == 0:
            defaults[trial.number] = score
        elif sampler == "random" or (sampler == "tpe" and sum(o < origin(trial) for o in finished) < startup):
            used[trial.number] = score
            if trial.state == "PRUNED":
                pruned.append(trial.number)
        else:
            guided.append(trial.number)
    return Draws(strategy.name, used, pruned, defaults, guided, failed)


@dataclass(frozen=True)
class ExpectedCurve:
    """A strategy's expected best dev score against the number of random-search trials."""

    draws: Draws
    unbiased: list[MaxEstimate] = field(default_factory=list)  # Tang et al. 2020, without replacement
    with_replacement: list[MaxEstimate] = field(default_factory=list)  # Dodge et al. 2019

    @property
    def strategy(self) -> str:
        return self.draws.strategy

    @property
    def available(self) -> bool:
        return len(self.unbiased) >= MIN_DRAWS

    @property
    def trials_to_within(self) -> int | None:
        return trials_to_within(self.unbiased) if self.available else None

    @property
    def reason(self) -> str | None:
        """Why there is no curve, as a table cell."""
        if self.available:
            return None
        count = len(self.draws.used)
        return f"n/a ({count} i.i.d. trial{'' if count == 1 else 's'})"


def expected_curve(results: ComparisonRecord, strategy: StrategyRecord) -> ExpectedCurve:
    found = draws(results, strategy)
    values = found.values
    if not values:
        return ExpectedCurve(found)
    return ExpectedCurve(found, expected_max_curve(values), expected_max_curve(values, replacement=True))


def expected_curves(results: ComparisonRecord) -> dict[str, ExpectedCurve]:
    return {name: expected_curve(results, strategy) for name, strategy in results.strategies.items()}
