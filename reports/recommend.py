"""Which strategy to use under a user's constraints, with its hyperparameters, the runner-up, the margin
between them with its uncertainty, and why every other strategy was ruled out.

With several comparisons (tasks or models) a strategy's score is the mean of its per-comparison means,
its costs the worst over comparisons, and the margin a paired t-interval over (comparison, seed) pairs.

Ties: when strategies that meet the constraints are within seed noise of the best one, the cheapest of them
on the cost the user prefers (``--prefer params|memory|time|latency``) is recommended, and the answer says why.
Within seed noise means both: the paired test finds no significant difference from the best (p ≥ 0.05),
*and* the gap in means is no larger than the larger seed standard deviation of the two. The second half
is there because with 3 seeds the test has little power: a gap of several standard deviations can still
have p > 0.05, and that is not a tie.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable

from core.errors import UserError
from core.layout import RESULTS_FILE
from core.records import ComparisonRecord, SPLIT_NAMES
from reports.pareto_sets import configurations
from reports.stats import ALPHA, CONFIDENCE, Difference, compare_means
from reports.tables import StrategyRow, main_table, signed
from core.units import format_bytes, format_count, format_milliseconds, format_seconds, significant

SMALL_PRESETS = ("smoke", "quick")


@dataclass(frozen=True)
class Constraints:
    max_memory_bytes: int | None = None
    max_train_seconds: float | None = None
    max_trainable_params: int | None = None
    max_artifact_bytes: int | None = None
    max_latency_ms: float | None = None
    max_inference_memory_bytes: int | None = None
    cpu_only: bool = False

    def limits(self) -> list["Limit"]:
        """The numeric constraints that are set."""
        return [limit for limit in LIMITS if getattr(self, limit.field) is not None]

    def describe(self) -> str:
        parts = [f"{limit.name} ≤ {limit.render(getattr(self, limit.field))}" for limit in self.limits()]
        if self.cpu_only:
            parts.append("runs on a CPU")
        return ", ".join(parts) or "none"


@dataclass(frozen=True)
class Candidate:
    """A strategy's score and costs over every comparison it appears in."""

    strategy: str
    rows: list[StrategyRow]  # one per comparison
    scores: dict[tuple[int, int], float]  # (comparison index, seed) → score, for paired margins
    params: list[dict[str, Any]]  # best hyperparameters per comparison

    @property
    def score(self) -> float:
        return statistics.fmean(row.score.mean for row in self.rows)

    @property
    def seeds(self) -> int:
        return min(row.seeds for row in self.rows)

    def cost(self, measure: str) -> float | None:
        """The worst over its comparisons; None where one of them did not measure it (inference costs)."""
        values = [getattr(row, measure) for row in self.rows]
        return None if any(value is None for value in values) else max(values)

    @property
    def spread(self) -> float | None:
        """The largest seed standard deviation over its comparisons (None with one seed)."""
        spreads = [row.score.std for row in self.rows]
        return None if any(s is None for s in spreads) else max(spreads)


@dataclass(frozen=True)
class Preference:
    """A cost to break ties on (``--prefer``): the cheapest of the strategies within seed noise wins."""

    name: str
    measure: str  # Candidate.cost measure
    one: str  # what one strategy does, e.g. "trains {} parameters"
    many: str  # what several do, e.g. "train {} parameters"
    render: Callable[[float], str]

    def value(self, candidate: "Candidate") -> str:
        return shown(candidate.cost(self.measure), self.render)


PREFERENCES = {
    "params": Preference("params", "trainable_params", "trains {} parameters", "train {} parameters", format_count),
    "memory": Preference("memory", "peak_memory_bytes", "peaks at {} of memory", "peak at {} of memory",
                         format_bytes),
    "time": Preference("time", "train_seconds", "trains in {}", "train in {}", format_seconds),
    "latency": Preference("latency", "deployed_latency_ms", "answers in {} per example", "answer in {} per example",
                          format_milliseconds),
}
DEFAULT_PREFERENCE = "params"


def shown(value: float | None, render: Callable[[float], str]) -> str:
    return "not measured" if value is None else render(value)


@dataclass(frozen=True)
class Limit:
    field: str  # Constraints attribute
    flag: str
    name: str
    measure: str  # StrategyRow attribute
    render: Callable[[float], str]

    def exceeded(self, candidate: Candidate, constraints: Constraints) -> str | None:
        """A one-line reason when ``candidate`` breaks this limit."""
        value, limit = candidate.cost(self.measure), getattr(constraints, self.field)
        if value is None:
            return f"{self.name} not measured, so {self.flag} cannot be checked"
        if value <= limit:
            return None
        return f"{self.name} {self.render(value)} > {self.render(limit)} ({self.flag})"


LIMITS = (
    Limit("max_memory_bytes", "--max-memory", "peak memory", "peak_memory_bytes", format_bytes),
    Limit("max_train_seconds", "--max-train-time", "training time", "train_seconds", format_seconds),
    Limit("max_trainable_params", "--max-trainable-params", "trainable parameters", "trainable_params", format_count),
    Limit("max_artifact_bytes", "--max-artifact-size", "artifact size", "artifact_bytes", format_bytes),
    # inference: the best form that gives the trained predictions (merged, where merging keeps them)
    Limit("max_latency_ms", "--max-latency", "inference latency per example (batch 1)", "deployed_latency_ms",
          format_milliseconds),
    Limit("max_inference_memory_bytes", "--max-inference-memory", "inference memory", "deployed_memory_bytes",
          format_bytes),
)


def noise_verdict(best: Candidate, other: Candidate, difference: Difference) -> str | None:
    """Why ``other`` is *not* within seed noise of ``best``, or None when it is (see the module docstring)."""
    if difference.p is None:
        return f"no test ({difference.reason})"
    if difference.significant():
        return "significant"
    spreads = [s for s in (best.spread, other.spread) if s is not None]
    if not spreads:
        return "no seed spread to compare the gap with"
    if abs(difference.mean) > max(spreads):
        return (f"not significant, but the gap ({abs(difference.mean):.3f}) is larger than either's seed sd "
                f"({max(spreads):.3f}), so not called a tie")
    return None


@dataclass(frozen=True)
class Tie:
    """Strategies within seed noise of the best, and the cheapest of them on the preferred cost."""

    best: Candidate  # highest score
    members: list[tuple[Candidate, Difference]]  # within noise of ``best``: member - best, paired by seed
    prefer: Preference
    chosen: Candidate

    def reason(self) -> str:
        """E.g. "lora and adapters are within seed noise (p = 0.37); lora trains 250k parameters vs 523k, so lora"."""
        chosen, prefer = self.chosen, self.prefer
        p = {member.strategy: difference.p for member, difference in self.members}
        everyone = [self.best] + [member for member, _ in self.members]
        others = [c for c in everyone if c is not chosen]
        if len(everyone) == 2:
            tied = f"{chosen.strategy} and {others[0].strategy} are within seed noise (p = {self.members[0][1].p:.2g})"
        else:
            names = [chosen.strategy] + [c.strategy for c in others]
            tests = ", ".join(f"{p[name]:.2g} for {name}" for name in p)
            tied = (f"{', '.join(names[:-1])} and {names[-1]} are within seed noise of the best, {self.best.strategy} "
                    f"(p = {tests})")
        if all(prefer.value(c) == prefer.value(chosen) for c in others):
            return (f"{tied}; {'both' if len(everyone) == 2 else 'all'} {prefer.many.format(prefer.value(chosen))}, "
                    f"so the better-scoring {chosen.strategy}")
        versus = prefer.value(others[0]) if len(others) == 1 else \
            ", ".join(f"{prefer.value(c)} ({c.strategy})" for c in others)
        return f"{tied}; {chosen.strategy} {prefer.one.format(prefer.value(chosen))} vs {versus}, so {chosen.strategy}"


def find_tie(admitted: list[Candidate], prefer: Preference) -> Tie | None:
    """The strategies within seed noise of the best admitted one, when there are any."""
    if len(admitted) < 2:
        return None
    best = admitted[0]
    members = []
    for other in admitted[1:]:
        difference = compare_means(other.scores, best.scores)
        if noise_verdict(best, other, difference) is None:
            members.append((other, difference))
    if not members:
        return None
    everyone = [best] + [member for member, _ in members]
    # cheapest; equal cost: the better; not measured: last
    chosen = min(everyone, key=lambda c: (math.inf if c.cost(prefer.measure) is None else c.cost(prefer.measure),
                                          -c.score))
    return Tie(best, members, prefer, chosen)


@dataclass(frozen=True)
class Recommendation:
    labels: list[str]  # the comparisons it is based on
    split: str
    metric: str
    constraints: Constraints
    choice: Candidate | None
    runner_up: Candidate | None
    margin: Difference | None  # choice - runner-up
    ruled_out: dict[str, str]  # strategy → why
    binding: str | None  # when nothing qualifies: which constraint binds
    devices: list[str]
    caveats: list[str] = field(default_factory=list)
    prefer: str = DEFAULT_PREFERENCE
    tie: Tie | None = None  # the leaders were within seed noise: the cheapest on ``prefer`` was chosen
    noise: str | None = None  # why the runner-up is not a tie, when the test alone would call it one


def candidates(runs: list[ComparisonRecord]) -> tuple[list[Candidate], dict[str, str]]:
    """Strategies with seed runs in every comparison, and a reason for each one without."""
    found, missing = [], {}
    names = list(dict.fromkeys(name for run in runs for name in run.strategies))
    tables = [main_table(run) for run in runs]
    for name in names:
        rows, scores, params, gaps = [], {}, [], []
        for index, (run, table) in enumerate(zip(runs, tables)):
            row = next((r for r in table.rows if r.strategy == name), None)
            if row is None or row.score is None:
                gaps.append(f"{run.task.name}: {row.status if row else 'not compared'}")
                continue
            rows.append(row)
            seeds = run.strategies[name].scores(run.split, run.task.metric)
            scores.update({(index, seed): value for seed, value in seeds.items()})
            params.append(run.strategies[name].best_params)
        if gaps:
            missing[name] = "; ".join(gaps)
        else:
            found.append(Candidate(name, rows, scores, params))
    return sorted(found, key=lambda c: (-c.score, c.cost("trainable_params"))), missing


def violations(candidate: Candidate, constraints: Constraints) -> list[tuple[Limit, str]]:
    return [(limit, reason) for limit in constraints.limits()
            if (reason := limit.exceeded(candidate, constraints)) is not None]


def binding_constraint(ranked: list[Candidate], broken: dict[str, list[tuple[Limit, str]]],
                       label: Callable[[Candidate], str]) -> str | None:
    """When every strategy is ruled out: the constraint whose removal admits the best strategy."""
    if not ranked:
        return None
    for candidate in ranked:  # best first: the first one held back by a single limit names the binding one
        if len(broken[candidate.strategy]) == 1:
            limit, _ = broken[candidate.strategy][0]
            admitted = [c.strategy for c in ranked if [other for other, _ in broken[c.strategy]] == [limit]]
            needed = shown(candidate.cost(limit.measure), limit.render)
            return (f"{limit.flag} binds: without it {label(candidate)} would qualify (it needs {limit.name} "
                    f"{needed}); removing it admits {', '.join(admitted)}")
    closest = min(ranked, key=lambda c: len(broken[c.strategy]))
    flags = " and ".join(limit.flag for limit, _ in broken[closest.strategy])
    return (f"no single constraint binds alone: every strategy breaks at least two; the closest, "
            f"{label(closest)}, needs {flags} relaxed")


def recommend(runs: list[ComparisonRecord], constraints: Constraints = Constraints(),
              prefer: str = DEFAULT_PREFERENCE) -> Recommendation:
    """The best strategy on the ranking split among those meeting every constraint; when others are within
    seed noise of it, the cheapest of them on ``prefer`` (params, memory, time or latency). A single
    multi-objective comparison offers each re-run configuration of each strategy's front as a candidate
    (reports.pareto_sets.configurations); with several comparisons a strategy stands for its best-scoring one."""
    if len(runs) == 1:
        runs = [configurations(runs[0])]
    return decide(runs, *candidates(runs), constraints, prefer)


def decide(runs: list[ComparisonRecord], ranked: list[Candidate], missing: dict[str, str], constraints: Constraints,
           prefer: str, labels: list[str] | None = None, size_asked: bool = False) -> Recommendation:
    """:func:`recommend` on candidates already scored (``ranked``, best first; ``missing``: strategy → why it
    has no score), e.g. interpolated to a data size (reports.sweep); ``runs``: the comparisons they come from.
    ``size_asked``: the user named their data size, so measuring on a subset is no caveat."""
    if prefer not in PREFERENCES:
        raise ValueError(f"prefer must be one of {', '.join(PREFERENCES)}, not {prefer!r}")
    check_measured(runs, ranked, constraints, prefer)
    ruled_out = {name: f"no seed runs to judge it by ({why})" for name, why in missing.items()}
    broken = {c.strategy: violations(c, constraints) for c in ranked}
    admitted = [c for c in ranked if not broken[c.strategy]]
    for candidate in ranked:
        if broken[candidate.strategy]:
            ruled_out[candidate.strategy] = "; ".join(reason for _, reason in broken[candidate.strategy])
    split = runs[0].split if len({r.split for r in runs}) == 1 else "mixed"
    metric = runs[0].task.metric if len({r.task.metric for r in runs}) == 1 else "metric"
    tie = find_tie(admitted, PREFERENCES[prefer])
    choice = tie.chosen if tie else (admitted[0] if admitted else None)
    # the runner-up: the best-scoring other strategy (the leader itself when a cheaper one was chosen)
    runner_up = next((c for c in admitted if c is not choice), None)
    margin = compare_means(choice.scores, runner_up.scores) if runner_up else None
    noise = None
    if runner_up and not tie and margin.p is not None and not margin.significant():
        noise = noise_verdict(choice, runner_up, compare_means(runner_up.scores, choice.scores))

    def label(candidate: Candidate) -> str:
        return f"{candidate.strategy} ({split_label(split)} {metric} {candidate.score:.3f})"

    return Recommendation(
        labels=labels or [f"{r.task.name} / {r.model_short}" for r in runs], split=split, metric=metric,
        constraints=constraints, choice=choice, runner_up=runner_up, margin=margin, ruled_out=ruled_out,
        binding=None if admitted else binding_constraint(ranked, broken, label),
        devices=sorted({r.device for r in runs}), prefer=prefer, tie=tie, noise=noise,
        caveats=list(dict.fromkeys(caveats(runs, constraints, choice, size_asked))),  # a sweep's sizes repeat notes
    )


def check_measured(runs: list[ComparisonRecord], ranked: list[Candidate], constraints: Constraints, prefer: str) -> None:
    """A constraint or preference on a cost measured for none of the strategies (inference costs, in a
    results.json from before peftbench measured them) cannot be checked: one line, rather than an answer
    that rules every strategy out."""
    wanted = [(limit.flag, limit.measure, limit.name) for limit in constraints.limits()]
    wanted.append((f"--prefer {prefer}", PREFERENCES[prefer].measure, PREFERENCES[prefer].name))
    for flag, measure, what in wanted:
        if ranked and all(c.cost(measure) is None for c in ranked):
            files = ", ".join(str(run.directory / RESULTS_FILE) for run in runs)
            raise UserError(f"{flag} cannot be checked: {files} records no {what} for any strategy (written before "
                            "peftbench measured inference costs); a new comparison (python -m runners.compare with "
                            "another --out) measures them")


def split_label(split: str) -> str:
    return SPLIT_NAMES.get(split, "held-out/dev")


def caveats(runs: list[ComparisonRecord], constraints: Constraints, choice: Candidate | None,
            size_asked: bool = False) -> list[str]:
    """What the recommendation extrapolates from, stated rather than hidden."""
    notes = []
    for run in runs:
        full, used = run.task.full_train_size, run.task.sizes.get("train")
        if full and used and used < full and not size_asked:
            timed = (", and --max-train-time was checked against the measured (subset) time"
                     if constraints.max_train_seconds else "")
            notes.append(f"{run.task.name}: measured on {used:,} of {full:,} training examples, so the recommendation "
                         f"extrapolates to the full data; training time there grows roughly {full / used:.0f}×{timed}.")
        if run.preset in SMALL_PRESETS:
            size = f", {format_count(run.model.total_params)} parameters" if run.model.total_params else ""
            notes.append(f"{run.task.name}: measured with {run.model_short}{size} under the '{run.preset}' preset "
                         "(small budget); for a larger model it extrapolates, and rankings can change with model "
                         "size.")
        if not run.complete:
            notes.append(f"{run.task.name}: the comparison was still running when results.json was written.")
    if choice and choice.seeds < 2:
        notes.append("One seed per strategy: the margin has no uncertainty estimate.")
    if constraints.cpu_only:
        gpu = [d for d in sorted({r.device for r in runs}) if not d.startswith("cpu")]
        notes.append("--cpu-only: every strategy runs on a CPU (quantised ones through bitsandbytes ≥ 0.47 on x86-64). "
                     + (f"These numbers come from {', '.join(gpu)}; CPU time and memory will differ."
                        if gpu else "These numbers were measured on a CPU."))
    if constraints.max_latency_ms:
        notes.append(f"--max-latency was checked against latencies measured on {', '.join(sorted({r.device for r in runs}))} "
                     "at batch 1 on short dev inputs (report.md, Inference cost); other hardware, thread counts or "
                     "longer inputs change them.")
    return notes


def format_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={significant(v, 3) if isinstance(v, float) else v}" for k, v in params.items()) or "defaults"


def render(rec: Recommendation) -> str:
    """Markdown (blank lines between blocks) that also reads as plain text in a terminal."""
    split = split_label(rec.split)
    blocks = [f"Based on: {', '.join(rec.labels)}; ranked on {split} {rec.metric} (mean over seeds"
              f"{', then over comparisons' if len(rec.labels) > 1 else ''}). Measured on: {'; '.join(rec.devices)}.",
              f"Constraints: {rec.constraints.describe()}."]
    if rec.choice is None:
        blocks.append("**No strategy meets every constraint.**" if rec.binding else "**No strategy has seed runs.**")
        if rec.binding:
            blocks.append(f"{rec.binding[0].upper()}{rec.binding[1:]}.")
    else:
        details = [f"best hyperparameters{f' ({label})' if len(rec.labels) > 1 else ''}: {format_params(params)}"
                   for label, params in zip(rec.labels, rec.choice.params)]
        if rec.runner_up:
            details += [f"runner-up: {rec.runner_up.strategy}: {describe(rec.runner_up, split, rec.metric)}",
                        f"margin: {margin_text(rec.margin, split, rec.metric, rec.noise)}"]
        else:
            details.append("runner-up: none (no other strategy meets the constraints)")
        blocks.append(f"**Use {rec.choice.strategy}**: {describe(rec.choice, split, rec.metric)}.")
        if rec.tie:
            blocks.append(f"Why: {rec.tie.reason()} (ties go to the cheapest on --prefer {rec.prefer}).")
        blocks.append(bullet_list(details))
    if rec.ruled_out:
        blocks += ["Ruled out:", bullet_list(f"{name}: {why}" for name, why in rec.ruled_out.items())]
    if rec.caveats:
        blocks += ["Caveats:", bullet_list(rec.caveats)]
    return "\n\n".join(blocks) + "\n"


def bullet_list(lines) -> str:
    return "\n".join(f"- {line}" for line in lines)


def describe(candidate: Candidate, split: str, metric: str) -> str:
    seeds = f"{candidate.seeds} seed{'s' if candidate.seeds != 1 else ''}"
    if len(candidate.rows) == 1:
        spread = candidate.rows[0].score.std
        score = f"{split} {metric} {candidate.score:.3f}" + (f" ± {spread:.3f}" if spread is not None else "")
        score += f" ({seeds}); costs:"
    else:
        score = (f"mean {split} {metric} {candidate.score:.3f} over {len(candidate.rows)} comparisons ({seeds} "
                 f"each); worst costs over them:")
    return (f"{score} {format_count(candidate.cost('trainable_params'))} trainable parameters, peak memory "
            f"{format_bytes(candidate.cost('peak_memory_bytes'))}, training "
            f"{format_seconds(candidate.cost('train_seconds'))}, artifact "
            f"{format_bytes(candidate.cost('artifact_bytes'))}{inference_text(candidate)}")


def inference_text(candidate: Candidate) -> str:
    """Its inference cost, where measured, in the form that gives it (merged, where merging helps)."""
    latency = candidate.cost("deployed_latency_ms")
    if latency is None:
        return ""
    merged = all(row.merged_latency_ms == row.deployed_latency_ms for row in candidate.rows)
    return (f"; inference {format_milliseconds(latency)} per example at batch 1"
            f"{' merged (runners.export --merge)' if merged else ''}, "
            f"{format_bytes(candidate.cost('deployed_memory_bytes'))} of weights")


def margin_text(margin: Difference, split: str, metric: str, noise: str | None = None) -> str:
    text = f"{signed(margin.mean)} {split} {metric}"
    if margin.ci_low is None:
        return f"{text}; no interval ({margin.reason})"
    if margin.significant():
        verdict = "significant"
    elif noise:
        verdict = noise
    else:
        verdict = "not significant: the two are within seed noise"
    return (f"{text} ({int(CONFIDENCE * 100)}% CI [{signed(margin.ci_low)}, {signed(margin.ci_high)}], "
            f"{margin.method}, n={margin.n}, p={margin.p:.2g}; {verdict})")
