"""What one comparison lets a reader conclude, through the one statistics engine (:mod:`reports.confidence`):
the split every consumer ranks on (decided here, once), the engine's analysis of it, the order strategies are
listed in, and the two optimism figures. The terminal ranking, report.md, the tables and figures, the sweep and
recommend all take a comparison's conclusions from :func:`conclude`, so they cannot rank or judge differently.

The evidence is each seed run's per-row predictions and the split's gold labels (results.json from schema
version 3 on). A file written before predictions were kept is still concluded from, without what it lacks: for
accuracy from the seed scores alone (the engine's bound on the rows' term, unpaired, so wider intervals and
fewer verdicts, and "learned" tested against chance only), for any other metric not at all; ``evidence`` and
``unavailable`` say which, in words a report prints.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from peftbench.records import ComparisonRecord, RunResult
from reports.confidence import (ALPHA, Analysis, Excess, RowScores, RowValues, Selection, analyse_rows, analyse_scores,
                                row_scores, selection_optimism, split_difference, split_to_rank)

# What each verdict means, in two sentences: the report and the README print these words.
VERDICT_MEANINGS = {
    "better": ("the simultaneous interval of the difference excludes 0 and is not inside the margin, so the strategy "
               "ahead is better. Every verdict of a report holds together with the others at least 95% of the time, "
               "however many pairs it judges."),
    "equivalent": ("the simultaneous interval of the difference lies inside ±margin, so the two differ by less than "
                   "the margin, though the difference may be real. It is only as strict as the margin: at the "
                   "default 5 points of accuracy, a 3-point difference can be equivalent."),
    "undetermined": ("the interval is too wide for either: it includes 0 and reaches beyond the margin. Not "
                     "significant is never equivalent, so the report says how many more seeds or held-out rows "
                     "would likely decide the pair."),
}
PER_ROW = "each seed run's per-row predictions and the split's gold labels"
SCORES_ONLY = ("this results.json records each seed run's score but not its per-row predictions (written before "
               "peftbench kept them), so the rows' sampling term is bounded (p(1 − p)/rows), not estimated, and not "
               "paired across strategies: intervals are wider and verdicts fewer than a new comparison's, and "
               "without gold labels the majority class is unknown, so \"learned\" means \"beats chance\"")
NOT_ANALYSED = ("this results.json records each seed run's score but not its per-row predictions (written before "
                "peftbench kept them), and without them only accuracy's row-sampling term can be bounded: no "
                "intervals or verdicts for {metric}; a new comparison (python -m runners.compare) records them")


def scored_splits(run: RunResult, metric: str) -> set[str]:
    """The splits on which ``run`` has a score of ``metric`` (an undefined score does not count)."""
    return {split for split, values in run.metrics.items() if values.get(metric) is not None}


def ranked_split(record: ComparisonRecord) -> str:
    """The split every consumer ranks ``record`` on (reports.confidence.split_to_rank over its seed runs)."""
    return split_to_rank(scored_splits(run, record.task.metric)
                         for strategy in record.strategies.values() for run in strategy.seed_runs)


@dataclass(frozen=True)
class Conclusions:
    """One comparison's conclusions on its ranking split."""

    split: str
    metric: str
    analysis: Analysis | None  # None: nothing could be analysed (``unavailable`` says why)
    unavailable: str | None
    evidence: str  # what the analysis rests on, in words
    order: list[str]  # analysed strategies best first, then the others with a score by mean, then those without
    means: dict[str, float]  # mean over seed runs on the ranking split, for every strategy with a score
    selection: dict[str, Excess]  # selection optimism on dev, per strategy
    split_gap: dict[str, Excess]  # dev − held-out of the seed re-runs, per strategy (ranking on held-out only)

    def learned(self, strategy: str) -> bool | None:
        """Whether ``strategy`` beat the baseline beyond noise; None where it was not analysed."""
        return None if self.analysis is None else self.analysis.learned.get(strategy)

    @property
    def top_group(self) -> list[str]:
        return self.analysis.top_group if self.analysis else []

    @property
    def per_row(self) -> bool:
        return self.evidence == PER_ROW


def scores(record: ComparisonRecord, split: str) -> dict[str, list[RunResult]]:
    """Each strategy's seed runs that have a score on ``split``, for the strategies with any."""
    metric = record.task.metric
    found = {name: [run for run in strategy.seed_runs if split in scored_splits(run, metric)]
             for name, strategy in record.strategies.items()}
    return {name: runs for name, runs in found.items() if runs}


def has_predictions(record: ComparisonRecord, runs: Mapping[str, list[RunResult]], split: str) -> bool:
    labels = record.task.labels or {}
    return split in labels and all(run.predictions and split in run.predictions
                                   for group in runs.values() for run in group)


def row_scores_of(record: ComparisonRecord, runs: Mapping[str, list[RunResult]], split: str) -> RowScores:
    """The engine's per-row values of these seed runs on ``split`` (rows are identified by their order)."""
    labels = record.task.labels[split]
    ids = np.arange(len(labels))
    predictions = {name: [RowValues(ids, np.asarray(run.predictions[split])) for run in group]
                   for name, group in runs.items()}
    return row_scores(predictions, RowValues(ids, np.asarray(labels)), record.task.metric,
                      record.task.num_labels if record.task.num_labels > 1 else None)


@dataclass(frozen=True)
class Judged:
    """The engine's analysis of some seed runs (None: none could be made), why not, and what it rests on."""

    analysis: Analysis | None
    unavailable: str | None
    evidence: str


def judge(record: ComparisonRecord, split: str, seed_scores: Mapping[str, list[float]],
          per_row: Callable[[], RowScores] | None, margin: float | None, alpha: float,
          nothing: str = "no strategy has seed runs yet") -> Judged:
    """The one choice of evidence: per-row values where every run recorded predictions (``per_row`` builds
    them), else the seed scores with the engine's bound (accuracy only), else nothing, with the reason in words
    (``nothing``: where there are no seed scores at all)."""
    metric = record.task.metric
    if not seed_scores:
        return Judged(None, nothing, PER_ROW)
    try:
        if per_row is not None:
            return Judged(analyse_rows(per_row(), margin, alpha), None, PER_ROW)
        if metric != "accuracy":
            return Judged(None, NOT_ANALYSED.format(metric=metric), SCORES_ONLY)
        return Judged(analyse_scores(seed_scores, record.task.sizes.get(split, 0), metric, margin, alpha,
                                     max(record.task.num_labels, 2)), None, SCORES_ONLY)
    except ValueError as error:  # e.g. one seed run per strategy: the engine says why in one line
        return Judged(None, str(error), PER_ROW if per_row is not None else SCORES_ONLY)


def analyse_split(record: ComparisonRecord, runs: Mapping[str, list[RunResult]], split: str,
                  margin: float | None, alpha: float) -> Judged:
    """The engine's analysis of ``runs`` on ``split``."""
    seed_scores = {name: [run.metrics[split][record.task.metric] for run in group] for name, group in runs.items()}
    per_row = (lambda: row_scores_of(record, runs, split)) if has_predictions(record, runs, split) else None
    return judge(record, split, seed_scores, per_row, margin, alpha)


def listed(judged: Judged, means: Mapping[str, float]) -> list[str]:
    """The analysed strategies best first, then the other strategies with a score by mean."""
    analysed = judged.analysis.ranking if judged.analysis else []
    return analysed + sorted((name for name in means if name not in analysed), key=lambda name: -means[name])


def selections(record: ComparisonRecord) -> dict[str, Selection]:
    """Each strategy's chosen trial and its seed re-runs' dev scores (the trial itself among them, if rescored)."""
    metric = record.task.metric
    found = {}
    for name, strategy in record.strategies.items():
        if strategy.best is None or not strategy.seed_runs:
            continue
        rescored = [i for i, run in enumerate(strategy.seed_runs) if run.repeats_trial == strategy.best.trial]
        found[name] = Selection(strategy.best.value, [run.metrics["dev"][metric] for run in strategy.seed_runs],
                                rescored[0] if rescored else None)
    return found


def conclude(record: ComparisonRecord, margin: float | None = None, alpha: float = ALPHA) -> Conclusions:
    """The conclusions of one comparison on its ranking split, at equivalence ``margin`` (default: the engine's
    for the metric) and family-wise error ``alpha``."""
    split, metric = ranked_split(record), record.task.metric
    runs = scores(record, split)
    means = {name: statistics.fmean(run.metrics[split][metric] for run in group) for name, group in runs.items()}
    judged = analyse_split(record, runs, split, margin, alpha)
    analysis = judged.analysis
    split_gap = {}
    if split == "test" and analysis is not None:
        dev = analyse_split(record, scores(record, "dev"), "dev", margin, alpha).analysis
        shared = [name for name in analysis.ranking if dev is not None and name in dev.scores]
        split_gap = {name: split_difference(dev.scores[name], analysis.scores[name], len(shared), alpha)
                     for name in shared}
    order = listed(judged, means) + [name for name in record.strategies if name not in means]
    return Conclusions(split, metric, analysis, judged.unavailable, judged.evidence, order, means,
                       selection_optimism(selections(record), alpha), split_gap)


def conclude_between(low: ComparisonRecord, high: ComparisonRecord, weight: float, margin: float | None = None,
                     alpha: float = ALPHA) -> tuple[Conclusions, dict[str, list[float]]]:
    """The conclusions at a data size between two measured comparisons on the same held-out rows, ``weight`` of
    the way from ``low`` to ``high`` (in log training examples), and each strategy's interpolated seed scores.
    Every seed run both sizes have (matched by seed) is interpolated: its per-row values where both recorded
    predictions (RowScores.blend), else its score (the seed scores' bound, accuracy); then judged as one
    comparison."""
    split, metric = ranked_split(low), low.task.metric
    if ranked_split(high) != split:
        raise ValueError("the two sizes rank on different splits")
    low_runs, high_runs = scores(low, split), scores(high, split)
    paired: dict[str, tuple[list[RunResult], list[RunResult]]] = {}
    for name in (name for name in low_runs if name in high_runs):
        below, above = ({run.seed: run for run in runs[name]} for runs in (low_runs, high_runs))
        seeds = sorted(seed for seed in below if seed in above)
        if seeds:
            paired[name] = ([below[seed] for seed in seeds], [above[seed] for seed in seeds])
    interpolated = {name: [(1 - weight) * a.metrics[split][metric] + weight * b.metrics[split][metric]
                           for a, b in zip(*pair)] for name, pair in paired.items()}
    lows, highs = ({name: pair[side] for name, pair in paired.items()} for side in (0, 1))
    both = has_predictions(low, lows, split) and has_predictions(high, highs, split) \
        and low.task.labels[split] == high.task.labels[split]
    per_row = (lambda: row_scores_of(low, lows, split).blend(row_scores_of(high, highs, split), weight)) \
        if both else None
    judged = judge(low, split, interpolated, per_row, margin, alpha, "no strategy has a seed run at both sizes")
    means = {name: statistics.fmean(values) for name, values in interpolated.items()}
    return Conclusions(split, metric, judged.analysis, judged.unavailable, judged.evidence, listed(judged, means),
                       means, {}, {}), interpolated
