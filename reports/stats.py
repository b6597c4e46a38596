"""Small-sample statistics for seed re-runs: t-intervals, paired t-tests matched by seed, and the
difference of two strategies' means with its interval.

With 3-5 seeds a normal approximation would understate the uncertainty badly (t(2) at 95% is 4.30,
not 1.96), so everything here uses Student's t. Where a statistic needs more data than there is,
the result carries ``None`` and a ``reason`` that the tables print instead of a made-up number.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Hashable, Mapping, Sequence

CONFIDENCE = 0.95
ALPHA = 0.05
NEGLIGIBLE = 1e-12  # a spread this small relative to the values is rounding error (0.9-0.8 vs 0.8-0.7), not data


def one_seed_reason(n: int) -> str:
    return f"n/a ({n} seed)" if n == 1 else f"n/a ({n} seeds)"


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation and a t-interval of the mean over seeds."""

    n: int
    mean: float
    std: float | None  # sample standard deviation (ddof=1); None with one value
    ci_low: float | None
    ci_high: float | None
    reason: str | None = None  # why std/CI are missing

    @property
    def half_width(self) -> float | None:
        return None if self.ci_high is None else (self.ci_high - self.ci_low) / 2


def t_distribution():
    """scipy.stats, imported when first needed: it takes a second, and bad input should be refused at once."""
    from scipy import stats

    return stats.t


def t_critical(df: float, confidence: float = CONFIDENCE) -> float:
    return float(t_distribution().ppf(0.5 + confidence / 2, df))


def summarize(values: Sequence[float], confidence: float = CONFIDENCE) -> Summary:
    """Mean ± t-interval over seeds; with one value only the mean, and the reason why."""
    if not values:
        raise ValueError("summarize() needs at least one value")
    n = len(values)
    mean = statistics.fmean(values)
    if n < 2:
        return Summary(n, mean, None, None, None, one_seed_reason(n))
    std = statistics.stdev(values)
    half = t_critical(n - 1, confidence) * std / math.sqrt(n)
    return Summary(n, mean, std, mean - half, mean + half)


@dataclass(frozen=True)
class Difference:
    """``a - b`` of two strategies' means, with a t-interval and a two-sided test of zero difference."""

    n: int  # matched pairs (paired) or the smaller sample (Welch)
    method: str  # "paired t-test" | "Welch t-test" | "none"
    mean: float
    ci_low: float | None
    ci_high: float | None
    t: float | None
    p: float | None
    reason: str | None = None

    def significant(self, alpha: float = ALPHA) -> bool | None:
        return None if self.p is None else self.p < alpha


def paired_t_test(a: Mapping[Hashable, float], b: Mapping[Hashable, float],
                  confidence: float = CONFIDENCE) -> Difference:
    """Paired t-test of ``a - b`` over the keys both have (seed numbers): the seeds share data order
    and initialisation of the head, so pairing removes that shared noise."""
    keys = [k for k in a if k in b]
    differences = [a[k] - b[k] for k in keys]
    n = len(differences)
    if n == 0:
        return Difference(0, "none", math.nan, None, None, None, None, "n/a (no seed in common)")
    mean = statistics.fmean(differences)
    if n < 2:
        return Difference(n, "none", mean, None, None, None, None, one_seed_reason(n))
    std = statistics.stdev(differences)
    if std <= NEGLIGIBLE * max(1.0, max(map(abs, differences))):
        # t would be 0/0 or x/0: no test, rather than a p of 0 from two lucky seeds
        return Difference(n, "none", mean, None, None, None, None, "n/a (same difference on every seed)")
    standard_error = std / math.sqrt(n)
    return _from_t(n, "paired t-test", mean, standard_error, n - 1, confidence)


def welch_t_test(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> Difference:
    """Unpaired difference of means (Welch): for samples whose seeds do not match."""
    na, nb = len(a), len(b)
    mean = statistics.fmean(a) - statistics.fmean(b)
    if min(na, nb) < 2:
        return Difference(min(na, nb), "none", mean, None, None, None, None, one_seed_reason(min(na, nb)))
    va, vb = statistics.variance(a) / na, statistics.variance(b) / nb
    if va + vb <= (NEGLIGIBLE * max(1.0, *map(abs, a), *map(abs, b))) ** 2:
        return Difference(min(na, nb), "none", mean, None, None, None, None, "n/a (no spread in either sample)")
    df = (va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1))
    return _from_t(min(na, nb), "Welch t-test", mean, math.sqrt(va + vb), df, confidence)


def _from_t(n: int, method: str, mean: float, standard_error: float, df: float, confidence: float) -> Difference:
    t = mean / standard_error
    p = float(2 * t_distribution().sf(abs(t), df))
    half = t_critical(df, confidence) * standard_error
    return Difference(n, method, mean, mean - half, mean + half, t, p)


def compare_means(a: Mapping[Hashable, float], b: Mapping[Hashable, float]) -> Difference:
    """``a - b``: paired by key when both have the same keys (same seeds), otherwise Welch."""
    if set(a) == set(b):
        return paired_t_test(a, b)
    return welch_t_test(list(a.values()), list(b.values()))
