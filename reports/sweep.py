"""A data-size sweep (``runners.compare --train-sizes 100,500,1000,2000,all``): one ordinary comparison per
training-set size, each in ``<sweep>/train-<size>/`` with its own results.json and report (resumable and
reportable on its own), all on the same dev and held-out splits with the same seeds and budget, and the
manifest ``<sweep>/sweep.json`` listing the sizes. The training sets are nested (core.tasks.nested_indices).

From the per-size results.json files alone, this module gives each strategy's score against training
examples (mean and t-interval over seeds), the sizes where the ranking changes and whether a change is
beyond seed noise (the rule ties use: reports.recommend.noise_verdict), and the recommendation at a size
between the measured ones. There every seed's score is interpolated linearly in log(training examples)
between the two neighbouring sizes, so a strategy's interpolated scores are paired by seed like measured
ones, and the paired tests and the tie rule of a single comparison apply unchanged. Outside the measured
range the nearest size stands in, flagged as extrapolation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from itertools import combinations
from pathlib import Path

from core.errors import UserError
from core.strategy import FAMILIES
from core.layout import RESULTS_FILE, SWEEP_FILE, size_dir, size_label
from core.sweep_manifest import manifest_sizes, read_manifest
from core.records import ComparisonRecord, SPLIT_NAMES
from core.schema import load_results
from reports.recommend import (DEFAULT_PREFERENCE, PREFERENCES, Candidate, Constraints, Recommendation,
                               candidates, decide, find_tie, noise_verdict, render)
from reports.stats import Difference, Summary, compare_means, summarize

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
        return "test" if all(point.results.split == "test" for point in self.points) else "dev"

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
    if point.results.split != sweep.split:
        raise UserError(f"{point.results.directory}: ranked on {SPLIT_NAMES[point.results.split]}, the other sizes "
                        f"on {SPLIT_NAMES[sweep.split]}; re-run that size")
    return point.results


# ----------------------------------------------------------------------------- curves and the table
@dataclass(frozen=True)
class CurvePoint:
    label: str
    examples: int
    summary: Summary  # over seeds: mean, sd, t-interval


@dataclass(frozen=True)
class Curve:
    strategy: str
    family: str
    points: list[CurvePoint]  # the sizes where the strategy has seed runs, ascending


def curves(sweep: Sweep) -> list[Curve]:
    """Each strategy's score against training examples, family by family."""
    families = {name: strategy.info.family for point in sweep.points
                for name, strategy in point.results.strategies.items()}
    order = list(FAMILIES)
    found = []
    for name in sorted(families, key=lambda n: order.index(families[n])):
        points = []
        for point in sweep.points:
            strategy = point.results.strategies.get(name)
            scores = strategy.scores(sweep.split, sweep.metric) if strategy else {}
            if scores:
                points.append(CurvePoint(point.label, point.examples, summarize(list(scores.values()))))
        found.append(Curve(name, families[name], points))
    return found


# ----------------------------------------------------------------------------- where the ranking changes
def ranked_at(sweep: Sweep, point: SweepPoint) -> list[Candidate]:
    """Every strategy with seed runs at one size, best first (as reports.recommend scores them)."""
    return candidates([check_split(sweep, point)])[0]


def beyond_noise(a: Candidate, b: Candidate) -> tuple[bool, Difference]:
    """a − b, and whether a and b differ beyond seed noise by the rule ties use: not a tie, with a test."""
    difference = compare_means(a.scores, b.scores)
    return difference.p is not None and noise_verdict(a, b, difference) is not None, difference


@dataclass(frozen=True)
class Leader:
    point: SweepPoint
    best: Candidate
    tied: list[tuple[Candidate, Difference]]  # within seed noise of the best (member − best)


def leaders(sweep: Sweep) -> list[Leader]:
    """The best strategy at every size, and those within seed noise of it."""
    found = []
    for point in sweep.points:
        ranked = ranked_at(sweep, point)
        if ranked:
            tie = find_tie(ranked, PREFERENCES[DEFAULT_PREFERENCE])
            found.append(Leader(point, ranked[0], tie.members if tie else []))
    return found


@dataclass(frozen=True)
class Ahead:
    """One strategy ahead of another beyond seed noise at one size."""

    point: SweepPoint
    difference: Difference  # ahead − behind


@dataclass(frozen=True)
class Crossing:
    """Two strategies whose order (by mean) flips between two consecutive measured sizes."""

    before: SweepPoint
    after: SweepPoint
    first: str  # the higher mean at ``before``
    second: str  # the higher mean at ``after``
    first_ahead: Ahead | None  # the nearest size ≤ before where first leads beyond seed noise
    second_ahead: Ahead | None  # the nearest size ≥ after where second leads beyond seed noise
    leader_change: bool  # first led everyone at ``before``, second leads everyone at ``after``

    @property
    def beyond_noise(self) -> bool:
        """Each leads the other beyond seed noise on its side of the crossing."""
        return self.first_ahead is not None and self.second_ahead is not None


def crossings(sweep: Sweep) -> list[Crossing]:
    """Every pair of strategies whose order flips between consecutive sizes, and whether beyond seed noise."""
    by_size = [{c.strategy: c for c in ranked_at(sweep, point)} for point in sweep.points]
    names = list(dict.fromkeys(name for ranked in by_size for name in ranked))
    found = []
    for index in range(len(sweep.points) - 1):
        here, there = by_size[index], by_size[index + 1]
        top_here = max(here.values(), key=lambda c: c.score, default=None)
        top_there = max(there.values(), key=lambda c: c.score, default=None)
        for a, b in combinations(names, 2):
            if not all(name in ranked for name in (a, b) for ranked in (here, there)):
                continue
            gap_here, gap_there = here[a].score - here[b].score, there[a].score - there[b].score
            if gap_here * gap_there >= 0:
                continue
            first, second = (a, b) if gap_here > 0 else (b, a)
            found.append(Crossing(
                sweep.points[index], sweep.points[index + 1], first, second,
                nearest_lead(sweep, by_size, first, second, range(index, -1, -1)),
                nearest_lead(sweep, by_size, second, first, range(index + 1, len(sweep.points))),
                leader_change=top_here.strategy == first and top_there.strategy == second))
    return found


def nearest_lead(sweep: Sweep, by_size: list[dict[str, Candidate]], ahead: str, behind: str,
                 indices: range) -> Ahead | None:
    """The first size in ``indices`` where ``ahead`` leads ``behind`` beyond seed noise."""
    for index in indices:
        ranked = by_size[index]
        if ahead in ranked and behind in ranked:
            separated, difference = beyond_noise(ranked[ahead], ranked[behind])
            if separated and difference.mean > 0:
                return Ahead(sweep.points[index], difference)
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
                f"{self.upper.examples:,}: every seed's score is interpolated linearly in log(training examples) "
                f"(weight {self.weight:.2f} on {self.upper.examples:,}); hyperparameters and costs are those chosen "
                f"at {self.nearer.examples:,}, the nearer size, with training time interpolated linearly.")


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


def blend(low: Candidate, high: Candidate, position: Position) -> Candidate | None:
    """A strategy at ``position`` from its candidates at the two neighbouring sizes: each seed's score
    interpolated in log size (over the seeds both sizes have), the nearer size's configuration and costs,
    training time interpolated linearly in training examples. None when no seed is at both sizes."""
    seeds = [key for key in low.scores if key in high.scores]
    if not seeds:
        return None
    scores = {key: interpolate(low.scores[key], high.scores[key], position.weight) for key in seeds}
    nearer = high if position.nearer is position.upper else low
    lower, upper = position.lower.examples, position.upper.examples
    low_row, high_row = low.rows[0], high.rows[0]
    row = replace(nearer.rows[0], seeds=len(scores), score=summarize(list(scores.values())),
                  train_seconds=interpolate(low_row.train_seconds, high_row.train_seconds,
                                            (position.examples - lower) / (upper - lower)))
    return Candidate(low.strategy, [row], scores, nearer.params)


def candidates_at(sweep: Sweep, position: Position) -> tuple[list[Candidate], dict[str, str]]:
    """Every strategy's candidate at ``position``, best first, and why the others have none."""
    low, missing = candidates([check_split(sweep, position.lower)])
    if position.lower is position.upper:
        return low, missing
    high, missing_high = candidates([check_split(sweep, position.upper)])
    highs = {c.strategy: c for c in high}
    found = []
    for candidate in low:
        other = highs.get(candidate.strategy)
        blended = blend(candidate, other, position) if other else None
        if blended is None:
            missing[candidate.strategy] = (f"no seed runs at {position.upper.examples:,} examples"
                                           if other is None else "no seed in common between the two sizes")
        else:
            found.append(blended)
    for name in highs:
        if name not in missing and all(c.strategy != name for c in low):
            missing[name] = f"no seed runs at {position.lower.examples:,} examples"
    for name, why in missing_high.items():
        missing.setdefault(name, why)
    return sorted(found, key=lambda c: (-c.score, c.cost("trainable_params"))), missing


@dataclass(frozen=True)
class SizedRecommendation:
    """The recommendation at one data size, with every strategy's (interpolated) score there."""

    sweep: Sweep
    position: Position
    asked: bool  # the user named the size (--train-size); else the largest measured size
    ranked: list[Candidate]
    recommendation: Recommendation


def recommend_at(sweep: Sweep, examples: int | None, constraints: Constraints = Constraints(),
                 prefer: str = DEFAULT_PREFERENCE) -> SizedRecommendation:
    """The best strategy at ``examples`` training examples (None: the largest measured size), under the
    constraints, ties going to the cheapest on ``prefer``, as for a single comparison."""
    position = locate(sweep, examples if examples is not None else sweep.points[-1].examples)
    ranked, missing = candidates_at(sweep, position)
    runs = [position.lower.results] + ([] if position.upper is position.lower else [position.upper.results])
    label = f"{sweep.label()} at {position.examples:,} training examples"
    rec = decide(runs, ranked, missing, constraints, prefer, labels=[label], size_asked=examples is not None)
    return SizedRecommendation(sweep, position, examples is not None, ranked, rec)


def render_at(sized: SizedRecommendation) -> str:
    """The recommendation at one data size as Markdown that reads as plain text: where the size falls, every
    strategy's score there with its interval, "no measurable difference" when the leaders are within seed
    noise, then the recommendation as for a single comparison."""
    sweep, position, rec = sized.sweep, sized.position, sized.recommendation
    split = SPLIT_NAMES.get(rec.split, rec.split)
    blocks = [] if sized.asked else [
        f"No --train-size given: the answer at the largest measured size, {position.examples:,} training examples "
        f"(pass --train-size N for your own data size)."]
    blocks.append(position.describe(sweep))
    if sized.ranked:
        lines = [f"| strategy | {split} {rec.metric} at {position.examples:,} examples (mean, 95% CI over seeds) |",
                 "|:--|--:|"]
        for candidate in sized.ranked:
            score = candidate.rows[0].score
            interval = (f" [{score.ci_low:.3f}, {score.ci_high:.3f}]" if score.ci_low is not None
                        else f" ({score.reason})")
            lines.append(f"| {candidate.strategy} | {score.mean:.3f}{interval} |")
        blocks.append("\n".join(lines))
    if rec.tie is not None:
        names = [rec.tie.best.strategy] + [member.strategy for member, _ in rec.tie.members]
        blocks.append(f"**No measurable difference** at {position.examples:,} training examples between "
                      f"{', '.join(names[:-1])} and {names[-1]}: they are within seed noise, so the cheapest on "
                      f"--prefer {rec.prefer} is recommended.")
    return "\n\n".join(blocks) + "\n\n" + render(rec)
