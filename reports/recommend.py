"""Which strategy to use under a user's constraints, from the verdicts of the one statistics engine
(reports.conclusions, reports.confidence), never from a rule of its own.

Candidates are the strategies that meet every constraint and learned (beat the baseline beyond noise). One that
another candidate is *better* than is never recommended. Among the rest, the best (highest score) and every
candidate *equivalent* to it within the margin are interchangeable: the cost ``--prefer`` names decides between
them, but only where it is materially lower (``MATERIAL``: at least 10%); otherwise the higher score. When some
remaining candidate is *undetermined* against the best, nothing is shown to be best: the answer says so, names
the leaders, says how many more seeds or held-out rows would likely decide, and names a pragmatic pick by the
same cost rule, labelled as not shown to be as good as the best. When no strategy learned, nothing is
recommended, with the likely causes it can measure.

With several comparisons (tasks or models) each is analysed at alpha / comparisons, so that all their verdicts
hold together: a candidate another is better than on any comparison is out, the best is the highest mean of the
per-comparison means, and it is decided only where every other remaining candidate is equivalent to it on
every comparison.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from peftbench.errors import UserError
from peftbench.exits import Exit
from peftbench.layout import RESULTS_FILE
from peftbench.constraints import DEFAULT_PREFERENCE, MATERIAL, PREFERENCES, Constraints, Limit, Preference
from peftbench.records import ComparisonRecord, SPLIT_NAMES
from peftbench.task_files import IMBALANCED  # a majority class at least this common is worth naming as a cause
from reports.conclusions import Conclusions
from reports.confidence import ALPHA, MAX_SEEDS, Analysis, PairVerdict
from reports.pareto_sets import configurations
from reports.tables import StrategyRow, main_table, signed
from peftbench.units import format_bytes, format_count, format_milliseconds, format_seconds, significant

SMALL_PRESETS = ("smoke", "quick")
FEW_STEPS = 100  # optimiser steps below which a fine-tuned encoder has hardly moved from its start


@dataclass(frozen=True)
class Candidate:
    """A strategy's score and costs over every comparison it appears in."""

    strategy: str
    rows: list[StrategyRow]  # one per comparison
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


def shown(value: float | None, render: Callable[[float], str]) -> str:
    return "not measured" if value is None else render(value)


def exceeded(limit: Limit, candidate: Candidate, constraints: Constraints) -> str | None:
    """A one-line reason when ``candidate`` (the worst of its comparisons) breaks ``limit``."""
    return limit.exceeded(candidate.cost(limit.row), constraints)


@dataclass(frozen=True)
class Leader:
    """A remaining candidate the best could not be told apart from, with the undetermined pairs (comparison
    label, verdict) that leave it open."""

    candidate: Candidate
    open_pairs: list[tuple[str, PairVerdict]]


@dataclass(frozen=True)
class Recommendation:
    labels: list[str]  # the comparisons it is based on
    split: str
    metric: str
    constraints: Constraints
    outcome: str  # recommended | undetermined | nothing learned | none admitted | no seed runs
    basis: str | None  # recommended: "equivalent" (to the best), "others worse", or "only candidate"
    choice: Candidate | None  # recommended, or the pragmatic pick when undetermined
    best: Candidate | None  # the highest-scoring candidate no other is better than
    equivalent: list[Candidate]  # equivalent to ``best`` on every comparison
    leaders: list[Leader]  # undetermined against ``best`` on some comparison
    ruled_out: dict[str, str]  # strategy → why
    binding: str | None  # when nothing meets the constraints: which constraint binds
    devices: list[str]
    margin: float | None  # the equivalence margin (None where nothing was analysed)
    alpha: float  # the family-wise error of each comparison's verdicts
    prefer: str = DEFAULT_PREFERENCE
    unanalysed: str | None = None  # why a comparison has no verdicts
    causes: list[str] = field(default_factory=list)  # nothing learned: the likely causes measured
    caveats: list[str] = field(default_factory=list)

    @property
    def exit_status(self) -> Exit:
        return {"undetermined": Exit.UNDETERMINED, "nothing learned": Exit.NOTHING_LEARNED}.get(self.outcome, Exit.OK)


def candidates(runs: list[ComparisonRecord], margin: float | None = None
               ) -> tuple[list[Candidate], dict[str, str], list[Conclusions]]:
    """Strategies with seed runs in every comparison, a reason for each one without, and each comparison's
    conclusions, every comparison analysed at alpha / comparisons."""
    found, missing = [], {}
    names = list(dict.fromkeys(name for run in runs for name in run.strategies))
    tables = [main_table(run, margin, ALPHA / len(runs)) for run in runs]
    for name in names:
        rows, params, gaps = [], [], []
        for run, table in zip(runs, tables):
            row = next((r for r in table.rows if r.strategy == name), None)
            if row is None or row.score is None:
                gaps.append(f"{run.task.name}: {row.status if row else 'not compared'}")
                continue
            rows.append(row)
            params.append(run.strategies[name].best_params)
        if gaps:
            missing[name] = "; ".join(gaps)
        else:
            found.append(Candidate(name, rows, params))
    return (sorted(found, key=lambda c: (-c.score, c.cost("trainable_params"))), missing,
            [table.conclusions for table in tables])


def violations(candidate: Candidate, constraints: Constraints) -> list[tuple[Limit, str]]:
    return [(limit, reason) for limit in constraints.limits()
            if (reason := exceeded(limit, candidate, constraints)) is not None]


def binding_constraint(ranked: list[Candidate], broken: dict[str, list[tuple[Limit, str]]],
                       label: Callable[[Candidate], str]) -> str | None:
    """When every strategy is ruled out: the constraint whose removal admits the best strategy."""
    if not ranked:
        return None
    for candidate in ranked:  # best first: the first one held back by a single limit names the binding one
        if len(broken[candidate.strategy]) == 1:
            limit, _ = broken[candidate.strategy][0]
            admitted = [c.strategy for c in ranked if [other for other, _ in broken[c.strategy]] == [limit]]
            needed = shown(candidate.cost(limit.row), limit.render)
            return (f"{limit.flag} binds: without it {label(candidate)} would qualify (it needs {limit.name} "
                    f"{needed}); removing it admits {', '.join(admitted)}")
    closest = min(ranked, key=lambda c: len(broken[c.strategy]))
    flags = " and ".join(limit.flag for limit, _ in broken[closest.strategy])
    return (f"no single constraint binds alone: every strategy breaks at least two; the closest, "
            f"{label(closest)}, needs {flags} relaxed")


def recommend(runs: list[ComparisonRecord], constraints: Constraints = Constraints(),
              prefer: str = DEFAULT_PREFERENCE, margin: float | None = None) -> Recommendation:
    """The recommendation among the strategies of ``runs`` (the module docstring says how) at equivalence
    ``margin`` (default: the engine's for the metric). A single multi-objective comparison offers each re-run
    configuration of each strategy's front as a candidate (reports.pareto_sets.configurations); with several
    comparisons a strategy stands for its best-scoring one."""
    if len(runs) == 1:
        runs = [configurations(runs[0])]
    ranked, missing, conclusions = candidates(runs, margin)
    return decide(runs, ranked, missing, conclusions, constraints, prefer)


def decide(runs: list[ComparisonRecord], ranked: list[Candidate], missing: dict[str, str],
           conclusions: list[Conclusions], constraints: Constraints, prefer: str, labels: list[str] | None = None,
           size_asked: bool = False) -> Recommendation:
    """:func:`recommend` on candidates already scored (``ranked``, best first; ``missing``: strategy → why it
    has no score) with each comparison's ``conclusions`` (their rows in the candidates' order), e.g. interpolated
    to a data size (reports.sweep); ``runs``: the comparisons they come from. ``size_asked``: the user named
    their data size, so measuring on a subset is no caveat."""
    if prefer not in PREFERENCES:
        raise ValueError(f"prefer must be one of {', '.join(PREFERENCES)}, not {prefer!r}")
    check_measured(runs, ranked, constraints, prefer)
    labels = labels or [f"{r.task.name} / {r.model_short}" for r in runs]
    named = labels if len(labels) > 1 else [""] * len(labels)
    analyses = [c.analysis for c in conclusions]
    ruled_out = {name: f"no seed runs to judge it by ({why})" for name, why in missing.items()}
    unanalysed = next((f"{label + ': ' if label else ''}{c.unavailable}" for label, c in zip(named, conclusions)
                       if c.analysis is None), None)
    judged = ranked
    if unanalysed is None:
        judged = []
        for candidate in ranked:
            reasons = [f"{label + ': ' if label else ''}not analysed ({a.excluded[candidate.strategy]})"
                       for label, a in zip(named, analyses) if candidate.strategy in a.excluded]
            reasons += [f"did not learn{' on ' + label if label else ''}: {not_learned(a)}"
                        for label, a in zip(named, analyses) if a.learned.get(candidate.strategy) is False]
            if reasons:
                ruled_out[candidate.strategy] = "; ".join(reasons)
            else:
                judged.append(candidate)
    split = conclusions[0].split if len({c.split for c in conclusions}) == 1 else "mixed"
    metric = runs[0].task.metric if len({r.task.metric for r in runs}) == 1 else "metric"
    common = dict(labels=labels, split=split, metric=metric, constraints=constraints, devices=sorted({r.device for r in runs}),
                  margin=analyses[0].margin if analyses[0] else None, alpha=ALPHA / len(runs), prefer=prefer,
                  unanalysed=unanalysed)

    def label(candidate: Candidate) -> str:
        return f"{candidate.strategy} ({split_label(split)} {metric} {candidate.score:.3f})"

    if ranked and not judged:  # every strategy with seed runs did not learn (or could not be analysed)
        return Recommendation(**common, outcome="nothing learned", basis=None, choice=None, best=None, equivalent=[], leaders=[],
                              ruled_out=ruled_out, binding=None, causes=likely_causes(runs, conclusions),
                              caveats=caveats(runs, constraints, size_asked))
    broken = {c.strategy: violations(c, constraints) for c in judged}
    admitted = [c for c in judged if not broken[c.strategy]]
    for candidate in judged:
        if broken[candidate.strategy]:
            ruled_out[candidate.strategy] = "; ".join(reason for _, reason in broken[candidate.strategy])
    notes = caveats(runs, constraints, size_asked)
    if not admitted:
        outcome = "none admitted" if judged else "no seed runs"
        return Recommendation(**common, outcome=outcome, basis=None, choice=None, best=None, equivalent=[], leaders=[],
                              ruled_out=ruled_out, binding=binding_constraint(judged, broken, label), caveats=notes)
    if unanalysed is not None:  # no verdicts: every admitted strategy is a leader
        best, *rest = admitted
        leaders = [Leader(c, []) for c in rest]
        return Recommendation(**common, outcome="undetermined", basis=None, choice=pick(admitted, PREFERENCES[prefer]), best=best,
                              equivalent=[], leaders=leaders, ruled_out=ruled_out, binding=None, caveats=notes)
    remaining = []
    for candidate in admitted:
        beaten = [f"{pair.ahead} is better{' on ' + label if label else ''} ({verdict_interval(pair)})"
                  for label, analysis in zip(named, analyses) for other in admitted if other is not candidate
                  if (pair := analysis.pair(other.strategy, candidate.strategy)).winner == other.strategy]
        if beaten:
            ruled_out[candidate.strategy] = "; ".join(beaten)
        else:
            remaining.append(candidate)
    if not remaining:  # every candidate is beaten somewhere: the answer depends on the comparison
        return Recommendation(**common, outcome="undetermined", basis=None, choice=None, best=None, equivalent=[], leaders=[],
                              ruled_out=ruled_out, binding=None, caveats=notes)
    best = remaining[0]
    equivalent, leaders = [], []
    for candidate in remaining[1:]:
        open_pairs = [(label, pair) for label, analysis in zip(named, analyses)
                      if (pair := analysis.pair(best.strategy, candidate.strategy)).verdict != "equivalent"]
        if open_pairs:
            leaders.append(Leader(candidate, open_pairs))
        else:
            equivalent.append(candidate)
    members = [best, *equivalent] if not leaders else remaining
    basis = None if leaders else "equivalent" if equivalent else "only candidate" if len(admitted) == 1 else "others worse"
    return Recommendation(**common, outcome="undetermined" if leaders else "recommended", basis=basis,
                          choice=pick(members, PREFERENCES[prefer]), best=best, equivalent=equivalent, leaders=leaders,
                          ruled_out=ruled_out, binding=None, caveats=notes)


def pick(members: list[Candidate], prefer: Preference) -> Candidate:
    """Of interchangeable strategies (best score first), the higher score unless another is materially cheaper
    on ``prefer``: walking down the scores, a strategy replaces the current pick only where its cost is at least
    ``MATERIAL`` lower."""
    chosen = members[0]
    for candidate in members[1:]:
        cost, current = candidate.cost(prefer.row), chosen.cost(prefer.row)
        if cost is not None and current is not None and cost <= (1 - MATERIAL) * current:
            chosen = candidate
    return chosen


def not_learned(analysis: Analysis) -> str:
    """Why a strategy did not learn, in words: the baseline it did not beat beyond noise."""
    base = analysis.baseline
    if base.majority is None:
        return f"not above chance ({base.chance:.3f}) beyond noise"
    return f"not above the majority class ({base.majority:.3f}) and chance ({base.chance:.3f}) beyond noise"


def verdict_interval(pair: PairVerdict) -> str:
    return f"{signed(pair.difference.estimate)} [{signed(pair.difference.low)}, {signed(pair.difference.high)}]"


def likely_causes(runs: list[ComparisonRecord], conclusions: list[Conclusions]) -> list[str]:
    """Why nothing may have learned, from what the records measure: class imbalance, few optimiser steps, and
    a metric the majority class scores well on."""
    found = []
    for run, concluded in zip(runs, conclusions):
        prefix = f"{run.task.name}: " if len(runs) > 1 else ""
        labels = (run.task.labels or {}).get(concluded.split)
        if labels and run.task.num_labels > 1:
            counts = np.bincount(np.asarray(labels, dtype=int), minlength=run.task.num_labels)
            share = counts.max() / counts.sum()
            if share >= IMBALANCED:
                found.append(f"{prefix}class imbalance: class {int(counts.argmax())} is {share:.0%} of the "
                             f"{SPLIT_NAMES[concluded.split]} rows, so a model can score well by always answering it")
        steps = [r.steps for s in run.strategies.values() for r in s.seed_runs]
        if steps and max(steps) < FEW_STEPS:
            found.append(f"{prefix}too few steps: the longest seed run took {max(steps)} optimiser steps (fewer than "
                         f"{FEW_STEPS}), too few for an encoder to move far from where it started")
        base = concluded.analysis.baseline if concluded.analysis else None
        if base is not None and base.majority is not None and run.task.metric == "accuracy" and base.majority > base.chance:
            found.append(f"{prefix}a metric that rewards the majority: always answering class {base.majority_class} "
                         f"scores {base.majority:.3f} {run.task.metric}; macro-F1 or MCC give a constant answer no "
                         "credit")
    return found


def check_measured(runs: list[ComparisonRecord], ranked: list[Candidate], constraints: Constraints, prefer: str) -> None:
    """A constraint or preference on a cost measured for none of the strategies (inference costs, in a
    results.json from before peftbench measured them) cannot be checked: one line, rather than an answer
    that rules every strategy out."""
    wanted = [(limit.flag, limit.row, limit.name) for limit in constraints.limits()]
    wanted.append((f"--prefer {prefer}", PREFERENCES[prefer].row, PREFERENCES[prefer].name))
    for flag, measure, what in wanted:
        if ranked and all(c.cost(measure) is None for c in ranked):
            files = ", ".join(str(run.directory / RESULTS_FILE) for run in runs)
            raise UserError(f"{flag} cannot be checked: {files} records no {what} for any strategy (written before "
                            "peftbench measured inference costs); a new comparison (python -m runners.compare with "
                            "another --out) measures them")


def split_label(split: str) -> str:
    return SPLIT_NAMES.get(split, "held-out/dev")


def caveats(runs: list[ComparisonRecord], constraints: Constraints, size_asked: bool = False) -> list[str]:
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
    if constraints.cpu_only:
        gpu = [d for d in sorted({r.device for r in runs}) if not d.startswith("cpu")]
        notes.append("--cpu-only: every strategy runs on a CPU (quantised ones through bitsandbytes ≥ 0.47 on x86-64). "
                     + (f"These numbers come from {', '.join(gpu)}; CPU time and memory will differ."
                        if gpu else "These numbers were measured on a CPU."))
    if constraints.max_latency_ms:
        notes.append(f"--max-latency was checked against latencies measured on {', '.join(sorted({r.device for r in runs}))} "
                     "at batch 1 on short dev inputs (report.md, Inference cost); other hardware, thread counts or "
                     "longer inputs change them.")
    return list(dict.fromkeys(notes))  # a sweep's sizes repeat notes


def format_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={significant(v, 3) if isinstance(v, float) else v}" for k, v in params.items()) or "defaults"


def render(rec: Recommendation) -> str:
    """Markdown (blank lines between blocks) that also reads as plain text in a terminal."""
    split = split_label(rec.split)
    over = ", then over comparisons" if len(rec.labels) > 1 else ""
    judged = (f"; verdicts at margin ±{rec.margin:g}, family-wise error {rec.alpha:.3g}" if rec.margin is not None
              else "")
    blocks = [f"Based on: {', '.join(rec.labels)}; ranked on {split} {rec.metric} (mean over seeds{over}{judged}). "
              f"Measured on: {'; '.join(rec.devices)}.", f"Constraints: {rec.constraints.describe()}."]
    blocks += OUTCOMES[rec.outcome](rec, split)
    if rec.ruled_out:
        blocks += ["Ruled out:", bullet_list(f"{name}: {why}" for name, why in rec.ruled_out.items())]
    if rec.caveats:
        blocks += ["Caveats:", bullet_list(rec.caveats)]
    return "\n\n".join(blocks) + "\n"


def recommended_blocks(rec: Recommendation, split: str) -> list[str]:
    chosen, best, prefer = rec.choice, rec.best, PREFERENCES[rec.prefer]
    blocks = [f"**Use {chosen.strategy}**: {describe(chosen, split, rec.metric)}."]
    if rec.basis == "only candidate":
        blocks.append("Why: it is the only strategy that meets the constraints and learned.")
    elif rec.basis == "others worse":
        blocks.append(f"Why: every other candidate that meets the constraints is shown worse than another (ruled out "
                      f"below); {best.strategy} is the one left.")
    else:
        members = [best, *rec.equivalent]
        names = ", ".join(c.strategy for c in members[:-1]) + f" and {members[-1].strategy}"
        why = f"{names} are equivalent within ±{rec.margin:g} (the simultaneous interval of each one's difference from {best.strategy} lies inside it)"
        blocks.append(f"Why: {why}; {cost_reason(chosen, members, prefer)}.")
    blocks.append(bullet_list(hyperparameter_lines(rec, chosen)))
    return blocks


def cost_reason(chosen: Candidate, members: list[Candidate], prefer: Preference) -> str:
    """Why the pick among interchangeable strategies: its cost, materially lower, or the higher score."""
    def cost(candidate: Candidate) -> str:
        return shown(candidate.cost(prefer.row), prefer.render)

    others = ", ".join(f"{cost(c)} ({c.strategy})" for c in members if c is not chosen)
    rule = f"a cost decides only where it is at least {MATERIAL:.0%} lower, else the higher score"
    if chosen is members[0]:
        return (f"no other is at least {MATERIAL:.0%} cheaper on --prefer {prefer.name} ({chosen.strategy} "
                f"{prefer.one.format(cost(chosen))}; {others}), so the higher-scoring {chosen.strategy} ({rule})")
    return f"{chosen.strategy} {prefer.one.format(cost(chosen))} against {others}, so {chosen.strategy} ({rule})"


def undetermined_blocks(rec: Recommendation, split: str) -> list[str]:
    if rec.unanalysed is not None:
        blocks = [f"**Undetermined**: no verdicts, so no strategy is shown to be best: {rec.unanalysed}."]
    elif rec.best is None:
        return ["**Undetermined**: every candidate is shown worse than another on some comparison, so the answer "
                "depends on the task (ruled out below)."]
    else:
        open_ones = ", ".join(f"{leader.candidate.strategy} ({leader.candidate.score:.3f})" for leader in rec.leaders)
        everyone = [rec.best, *rec.equivalent, *(leader.candidate for leader in rec.leaders)]
        blocks = [f"**Undetermined**: no strategy is shown to be best. {rec.best.strategy} leads "
                  f"({rec.best.score:.3f}), but {open_ones} cannot be told apart from it at margin ±{rec.margin:g}; "
                  f"the leaders, none shown worse than another: "
                  f"{', '.join(c.strategy for c in sorted(everyone, key=lambda c: -c.score))}.",
                  bullet_list(decider_line(rec.best, leader, label, pair) for leader in rec.leaders
                              for label, pair in leader.open_pairs)]
        if rec.equivalent:
            blocks.append(f"Equivalent to {rec.best.strategy} within ±{rec.margin:g}: "
                          f"{', '.join(c.strategy for c in rec.equivalent)}.")
    chosen = rec.choice
    members = [rec.best, *rec.equivalent, *(l.candidate for l in rec.leaders)] if rec.best else []
    label = (f"not shown to be as good as {rec.best.strategy}" if chosen is not rec.best else
             f"not shown to be better than {', '.join(l.candidate.strategy for l in rec.leaders) or 'the others'}")
    blocks.append(f"Pragmatic pick, {label}: **{chosen.strategy}**: {describe(chosen, split, rec.metric)}.")
    if len(members) > 1:
        blocks.append(f"Why this pick: {cost_reason(chosen, sorted(members, key=lambda c: -c.score), PREFERENCES[rec.prefer])}.")
    blocks.append(bullet_list(hyperparameter_lines(rec, chosen)))
    return blocks


def decider_line(best: Candidate, leader: Leader, label: str, pair: PairVerdict) -> str:
    """One open pair: its corrected interval, and how many more seeds or held-out rows would likely decide it."""
    where = f" on {label}" if label else ""
    more = [f"{pair.needed_seeds} seeds per strategy (now {pair.seeds})" if pair.needed_seeds else None,
            f"{pair.needed_examples:,} held-out rows (now {pair.rows:,})" if pair.needed_examples else None]
    found = [text for text in more if text]
    decides = (" or ".join(found) + " would likely decide it" if found else
               f"neither up to {MAX_SEEDS} seeds per strategy nor any number of held-out rows alone would likely "
               "decide it")
    return f"{best.strategy} − {leader.candidate.strategy}{where}: {verdict_interval(pair)}, {pair.verdict}; {decides}"


def nothing_learned_blocks(rec: Recommendation, split: str) -> list[str]:
    blocks = ["**Nothing learned**: no strategy beat the baseline beyond noise (ruled out below), so nothing is "
              "recommended."]
    if rec.causes:
        blocks += ["Likely causes, as measured:", bullet_list(rec.causes)]
    blocks += ["What to try: a metric a constant answer cannot win (macro-F1 or MCC) for imbalanced classes; more "
               "optimiser steps (--epochs, --min-steps) or more training data (--train-size); and check that the "
               "labels match the texts."]
    return blocks


def none_admitted_blocks(rec: Recommendation, split: str) -> list[str]:
    blocks = ["**No strategy meets every constraint.**"]
    if rec.binding:
        blocks.append(f"{rec.binding[0].upper()}{rec.binding[1:]}.")
    return blocks


OUTCOMES: dict[str, Callable[[Recommendation, str], list[str]]] = {
    "recommended": recommended_blocks, "undetermined": undetermined_blocks, "nothing learned": nothing_learned_blocks,
    "none admitted": none_admitted_blocks, "no seed runs": lambda rec, split: ["**No strategy has seed runs.**"],
}


def hyperparameter_lines(rec: Recommendation, chosen: Candidate) -> list[str]:
    return [f"best hyperparameters{f' ({label})' if len(rec.labels) > 1 else ''}: {format_params(params)}"
            for label, params in zip(rec.labels, chosen.params)]


def bullet_list(lines) -> str:
    return "\n".join(f"- {line}" for line in lines)


def describe(candidate: Candidate, split: str, metric: str) -> str:
    seeds = f"{candidate.seeds} seed{'s' if candidate.seeds != 1 else ''}"
    if len(candidate.rows) == 1:
        row = candidate.rows[0]
        interval = f" [{row.interval.low:.3f}, {row.interval.high:.3f}]" if row.interval else ""
        score = f"{split} {metric} {candidate.score:.3f}{interval} ({seeds}); costs:"
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
