"""A data-size sweep (``runners.compare --train-sizes 100,500,1000,2000,all``): one ordinary comparison per
training-set size, each in ``<sweep>/train-<size>/`` with its own results.json and report (resumable and
reportable on its own), all on the same dev and held-out splits with the same seeds and budget, and the
manifest ``<sweep>/sweep.json`` listing the sizes. The training sets are nested (peftbench.tasks.nested_indices).

From the per-size results.json files alone, this module gives each strategy's score against training
examples (mean and the engine's interval), the top group at every size, the sizes where the order of two
strategies changes and whether each is ahead of the other beyond noise on its side (a *better* verdict), and
the recommendation at a size between the measured ones. Every size is judged by the one statistics engine
(reports.conclusions), and all sizes of a report together: each at alpha / sizes, so that the verdicts across
sizes (a change of leader) hold together at alpha. Between two measured sizes every seed run is interpolated
linearly in log(training examples), each row's prediction value where both sizes recorded predictions (else
the seed scores, for accuracy), and judged as one comparison of its own (reports.conclusions.conclude_between).
Outside the measured range the nearest size stands in, flagged as extrapolation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from itertools import combinations
from pathlib import Path

from peftbench.errors import UserError
from peftbench.layout import RESULTS_FILE, SWEEP_FILE, size_dir, size_label
from peftbench.records import ComparisonRecord, SPLIT_NAMES
from peftbench.schema import load_results
from peftbench.strategy import FAMILIES, StrategyInfo
from peftbench.sweep_manifest import manifest_sizes, read_manifest
from reports.conclusions import Conclusions, conclude, conclude_between, ranked_split
from reports.confidence import ALPHA, Interval, PairVerdict
from peftbench.constraints import DEFAULT_PREFERENCE, Constraints
from reports.recommend import Candidate, Recommendation, candidates, decide, render
from reports.tables import Spread, spread

Size = int | None  # training examples asked for; None: all of them


# ----------------------------------------------------------------------------- loading
@dataclass(frozen=True)
class SweepPoint:
    """One measured size: its comparison."""

    size: Size
    results: ComparisonRecord

    @property
    def label(self) -> str:
        return size_label(self.size)

    @property
    def examples(self) -> int:
        """Training examples the comparison actually used (for ``all``: the whole training set)."""
        return self.results.task.sizes.get("train", 0)


@dataclass(frozen=True)
class Sweep:
    directory: Path
    points: list[SweepPoint]  # sizes with a results.json, fewest training examples first
    pending: list[Size]  # sizes of the manifest without a results.json yet

    @property
    def metric(self) -> str:
        return self.points[0].results.task.metric

    @property
    def split(self) -> str:
        """The split every size is ranked on: held-out when every size has it, else dev."""
        return "test" if all(ranked_split(point.results) == "test" for point in self.points) else "dev"

    @property
    def model_short(self) -> str:
        return self.points[0].results.model_short

    def label(self) -> str:
        return f"{self.points[0].results.task.name} / {self.model_short}"


def load_sweep(directory: Path | str) -> Sweep:
    """A sweep directory's manifest and every size's results.json; one UserError line on any problem."""
    directory = Path(directory)
    data = read_manifest(directory)
    if data is None:
        raise UserError(f"{directory} is not a data-size sweep (no {SWEEP_FILE}); run python -m runners.compare "
                        f"--train-sizes ... --out {directory} first")
    points, pending = [], []
    for size in manifest_sizes(data):
        folder = directory / size_dir(size)
        if (folder / RESULTS_FILE).is_file():
            points.append(SweepPoint(size, load_results(folder)))
        else:
            pending.append(size)
    if not points:
        raise UserError(f"{directory}: no size of the sweep has results yet (none of "
                        f"{', '.join(size_dir(s) for s in pending)} holds a {RESULTS_FILE})")
    points.sort(key=lambda point: point.examples)
    for first, second in zip(points, points[1:]):
        if first.examples == second.examples:
            raise UserError(f"{directory}: {first.label} and {second.label} both trained on {first.examples:,} "
                            f"examples (the training set has no more); leave one of them out")
    return Sweep(directory, points, pending)


def check_split(sweep: Sweep, point: SweepPoint) -> ComparisonRecord:
    """A size's comparison, refused when it ranks on another split than the sweep (a size without held-out)."""
    if ranked_split(point.results) != sweep.split:
        raise UserError(f"{point.results.directory}: ranked on {SPLIT_NAMES[ranked_split(point.results)]}, the other "
                        f"sizes on {SPLIT_NAMES[sweep.split]}; re-run that size")
    return point.results


# ----------------------------------------------------------------------------- every size judged
def judged(sweep: Sweep, margin: float | None = None) -> list[Conclusions]:
    """Every size's conclusions, each at alpha / sizes, so that the verdicts of all sizes hold together."""
    return [conclude(check_split(sweep, point), margin, ALPHA / len(sweep.points)) for point in sweep.points]


# ----------------------------------------------------------------------------- curves and the table
@dataclass(frozen=True)
class CurvePoint:
    label: str
    examples: int
    summary: Spread  # over seeds: mean, sd
    interval: Interval | None  # the engine's, at that size (None where not analysed)
    top: bool  # in that size's top group


@dataclass(frozen=True)
class Curve:
    strategy: str
    info: StrategyInfo  # what the strategy declares: its family and place in the registry
    points: list[CurvePoint]  # the sizes where the strategy has seed runs, ascending

    @property
    def family(self) -> str:
        return self.info.family


def curves(sweep: Sweep, found: list[Conclusions]) -> list[Curve]:
    """Each strategy's score against training examples, family by family."""
    infos = {name: strategy.info for point in sweep.points for name, strategy in point.results.strategies.items()}
    order = list(FAMILIES)
    drawn = []
    for name in sorted(infos, key=lambda n: order.index(infos[n].family)):
        points = []
        for point, conclusions in zip(sweep.points, found):
            strategy = point.results.strategies.get(name)
            scores = strategy.scores(sweep.split, sweep.metric) if strategy else {}
            if scores:
                analysis = conclusions.analysis
                points.append(CurvePoint(point.label, point.examples, spread(list(scores.values())),
                                         analysis.scores.get(name) if analysis else None,
                                         name in conclusions.top_group))
        drawn.append(Curve(name, infos[name], points))
    return drawn


# ----------------------------------------------------------------------------- where the ranking changes
@dataclass(frozen=True)
class SizeLeaders:
    """At one size: the best estimate and the rest of its top group (each with its verdict against the best)."""

    point: SweepPoint
    conclusions: Conclusions

    @property
    def best(self) -> str:
        return self.conclusions.top_group[0]

    @property
    def others(self) -> list[PairVerdict]:
        analysis = self.conclusions.analysis
        return [analysis.pair(self.best, name) for name in self.conclusions.top_group[1:]]


def leaders(sweep: Sweep, found: list[Conclusions]) -> list[SizeLeaders]:
    """The top group at every size that was analysed."""
    return [SizeLeaders(point, conclusions) for point, conclusions in zip(sweep.points, found) if conclusions.analysis]


@dataclass(frozen=True)
class Ahead:
    """One strategy better than another at one size (the engine's verdict)."""

    point: SweepPoint
    pair: PairVerdict


@dataclass(frozen=True)
class Crossing:
    """Two strategies whose order (by mean) flips between two consecutive measured sizes."""

    before: SweepPoint
    after: SweepPoint
    first: str  # the higher mean at ``before``
    second: str  # the higher mean at ``after``
    first_ahead: Ahead | None  # the nearest size ≤ before where first is better than second
    second_ahead: Ahead | None  # the nearest size ≥ after where second is better than first
    leader_change: bool  # first led everyone at ``before``, second leads everyone at ``after``

    @property
    def beyond_noise(self) -> bool:
        """Each is better than the other on its side of the crossing."""
        return self.first_ahead is not None and self.second_ahead is not None


def crossings(sweep: Sweep, found: list[Conclusions]) -> list[Crossing]:
    """Every pair of strategies whose order flips between consecutive sizes, and whether beyond noise."""
    means = [conclusions.means for conclusions in found]
    names = list(dict.fromkeys(name for by_size in means for name in by_size))
    changes = []
    for index in range(len(sweep.points) - 1):
        here, there = means[index], means[index + 1]
        for a, b in combinations(names, 2):
            if not all(name in by_size for name in (a, b) for by_size in (here, there)):
                continue
            gap_here, gap_there = here[a] - here[b], there[a] - there[b]
            if gap_here * gap_there >= 0:
                continue
            first, second = (a, b) if gap_here > 0 else (b, a)
            changes.append(Crossing(
                sweep.points[index], sweep.points[index + 1], first, second,
                nearest_lead(sweep, found, first, second, range(index, -1, -1)),
                nearest_lead(sweep, found, second, first, range(index + 1, len(sweep.points))),
                leader_change=max(here, key=here.get) == first and max(there, key=there.get) == second))
    return changes


def nearest_lead(sweep: Sweep, found: list[Conclusions], ahead: str, behind: str, indices: range) -> Ahead | None:
    """The first size in ``indices`` where ``ahead`` is better than ``behind``."""
    for index in indices:
        analysis = found[index].analysis
        if analysis and ahead in analysis.scores and behind in analysis.scores:
            pair = analysis.pair(ahead, behind)
            if pair.winner == ahead:
                return Ahead(sweep.points[index], pair)
    return None


# ----------------------------------------------------------------------------- a size between the measured ones
@dataclass(frozen=True)
class Position:
    """Where a data size falls among the measured ones."""

    examples: int
    lower: SweepPoint
    upper: SweepPoint  # the same point as ``lower`` at a measured size or outside the measured range
    weight: float  # of ``upper``, in log(training examples)
    extrapolated: bool

    @property
    def measured(self) -> bool:
        return self.lower is self.upper and not self.extrapolated

    @property
    def nearer(self) -> SweepPoint:
        """The size whose configurations and costs stand for this one (the nearer in log size)."""
        return self.upper if self.weight >= 0.5 else self.lower

    def describe(self, sweep: Sweep) -> str:
        measured = ", ".join(f"{p.examples:,}" for p in sweep.points)
        if self.extrapolated:
            side = "below the smallest" if self.examples < self.lower.examples else "above the largest"
            return (f"**Extrapolation:** {self.examples:,} training examples is {side} measured size "
                    f"({measured}); the numbers are those measured at {self.lower.examples:,}, and the ranking "
                    f"there may not hold at {self.examples:,}.")
        if self.measured:
            return f"{self.examples:,} training examples is a measured size (of {measured})."
        return (f"{self.examples:,} training examples lies between the measured {self.lower.examples:,} and "
                f"{self.upper.examples:,}: every seed run is interpolated linearly in log(training examples) "
                f"(weight {self.weight:.2f} on {self.upper.examples:,}) and judged as a comparison of its own; "
                f"hyperparameters and costs are those chosen at {self.nearer.examples:,}, the nearer size, with "
                f"training time interpolated linearly.")


def log_weight(examples: int, lower: int, upper: int) -> float:
    """Where ``examples`` lies between ``lower`` and ``upper`` on a log scale: 0 at lower, 1 at upper."""
    return (math.log(examples) - math.log(lower)) / (math.log(upper) - math.log(lower))


def interpolate(low: float, high: float, weight: float) -> float:
    return low + weight * (high - low)


def locate(sweep: Sweep, examples: int) -> Position:
    points = sweep.points
    if examples <= points[0].examples or examples >= points[-1].examples:
        nearest = points[0] if examples <= points[0].examples else points[-1]
        return Position(examples, nearest, nearest, 0.0, extrapolated=examples != nearest.examples)
    exact = next((p for p in points if p.examples == examples), None)
    if exact is not None:
        return Position(examples, exact, exact, 0.0, extrapolated=False)
    upper = next(p for p in points if p.examples > examples)
    lower = points[points.index(upper) - 1]
    return Position(examples, lower, upper, log_weight(examples, lower.examples, upper.examples), extrapolated=False)


def blend(low: Candidate, high: Candidate, position: Position, conclusions: Conclusions,
          scores: list[float]) -> Candidate:
    """A strategy at ``position`` from its candidates at the two neighbouring sizes: its interpolated seed scores
    and what the interpolated ``conclusions`` say of it; the nearer size's configuration and costs, training time
    interpolated linearly in training examples."""
    nearer = high if position.nearer is position.upper else low
    lower, upper = position.lower.examples, position.upper.examples
    analysis, name = conclusions.analysis, low.strategy
    row = replace(nearer.rows[0], seeds=len(scores), score=spread(scores),
                  interval=analysis.scores.get(name) if analysis else None, top=name in conclusions.top_group,
                  learned=conclusions.learned(name),
                  train_seconds=interpolate(low.rows[0].train_seconds, high.rows[0].train_seconds,
                                            (position.examples - lower) / (upper - lower)))
    return Candidate(name, [row], nearer.params)


def candidates_at(sweep: Sweep, position: Position, margin: float | None = None
                  ) -> tuple[list[Candidate], dict[str, str], Conclusions]:
    """Every strategy's candidate at ``position``, best first, why the others have none, and the conclusions
    there (a measured size's own, or the interpolated ones)."""
    low, missing, (found,) = candidates([check_split(sweep, position.lower)], margin)
    if position.lower is position.upper:
        return low, missing, found
    high, missing_high, _ = candidates([check_split(sweep, position.upper)], margin)
    try:
        between, scores = conclude_between(position.lower.results, position.upper.results, position.weight, margin)
    except ValueError as error:
        raise UserError(f"{sweep.directory}: cannot interpolate between {position.lower.examples:,} and "
                        f"{position.upper.examples:,} examples: {error}") from None
    highs = {c.strategy: c for c in high}
    blended = []
    for candidate in low:
        other = highs.get(candidate.strategy)
        if other is None:
            missing[candidate.strategy] = f"no seed runs at {position.upper.examples:,} examples"
        elif candidate.strategy not in scores:
            missing[candidate.strategy] = "no seed in common between the two sizes"
        else:
            blended.append(blend(candidate, other, position, between, scores[candidate.strategy]))
    for name in highs:
        if name not in missing and all(c.strategy != name for c in low):
            missing[name] = f"no seed runs at {position.lower.examples:,} examples"
    for name, why in missing_high.items():
        missing.setdefault(name, why)
    return sorted(blended, key=lambda c: (-c.score, c.cost("trainable_params"))), missing, between


@dataclass(frozen=True)
class SizedRecommendation:
    """The recommendation at one data size, with every strategy's (interpolated) score there."""

    sweep: Sweep
    position: Position
    asked: bool  # the user named the size (--train-size); else the largest measured size
    ranked: list[Candidate]
    recommendation: Recommendation


def recommend_at(sweep: Sweep, examples: int | None, constraints: Constraints = Constraints(),
                 prefer: str = DEFAULT_PREFERENCE, margin: float | None = None) -> SizedRecommendation:
    """The recommendation at ``examples`` training examples (None: the largest measured size), under the
    constraints, as for a single comparison: the question is about one size, so its verdicts are one family."""
    position = locate(sweep, examples if examples is not None else sweep.points[-1].examples)
    ranked, missing, conclusions = candidates_at(sweep, position, margin)
    runs = [position.lower.results] + ([] if position.upper is position.lower else [position.upper.results])
    label = f"{sweep.label()} at {position.examples:,} training examples"
    rec = decide(runs, ranked, missing, [conclusions], constraints, prefer, labels=[label],
                 size_asked=examples is not None)
    return SizedRecommendation(sweep, position, examples is not None, ranked, rec)


def render_at(sized: SizedRecommendation) -> str:
    """The recommendation at one data size as Markdown that reads as plain text: where the size falls, every
    strategy's score there with its interval, then the recommendation as for a single comparison."""
    sweep, position, rec = sized.sweep, sized.position, sized.recommendation
    split = SPLIT_NAMES.get(rec.split, rec.split)
    blocks = [] if sized.asked else [
        f"No --train-size given: the answer at the largest measured size, {position.examples:,} training examples "
        f"(pass --train-size N for your own data size)."]
    blocks.append(position.describe(sweep))
    if sized.ranked:
        lines = [f"| strategy | {split} {rec.metric} at {position.examples:,} examples (mean, 95% interval) |",
                 "|:--|--:|"]
        for candidate in sized.ranked:
            row = candidate.rows[0]
            interval = (f" [{row.interval.low:.3f}, {row.interval.high:.3f}]" if row.interval is not None
                        else " (not analysed)")
            lines.append(f"| {candidate.strategy} | {row.score.mean:.3f}{interval} |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n\n" + render(rec)
