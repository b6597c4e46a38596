"""A race (``runners.choose``): the strategies share a budget adaptively, and one that is worse than the leader is
dropped as soon as the corrected test says so, so the budget goes to those still in contention.

It runs in rounds on the comparison machinery (``studies.compare``: the same studies, runs and records):

- round 1: every strategy's defaults (its first tuning trial), then 2 seed runs of them (the first is that trial
  rescored on the held-out split, so it costs an evaluation);
- round r ≥ 2: one more seed run each (r + 1 in all, up to ``max_seeds``), and in the first round whose budget left
  pays for them (``affords_tuning``), before that seed run, the rest of the preset's tuning trials (a new best
  configuration starts its own seed runs). A budget too short for them goes to seed runs, so every look but the
  first has more of them than the one before; the strategies are then judged by their defaults, and the report
  says so.

With more strategies than a first round can run in the default budget, round 1 **screens** them first
(``--screen``): each strategy's defaults trial goes on past its first ``SCREEN_RUNGS`` dev evaluations only if it
is in the best 1/3 of the strategies' defaults there (successive halving across strategies, Jamieson & Talwalkar
2016; the rule of the comparison's own pruner). A screened-out strategy leaves the race by rank at a fraction of
its training, not by a test: the screen has no error rate of its own, and the report says which left this way.

After each round, a **look**: the confidence engine (``reports.confidence``) on the strategies' held-out
predictions. A strategy the leader is *better* than (its corrected interval excludes 0 and is not inside the
margin) is dropped. The looks share alpha by an **alpha-spending function** (Lan & DeMets 1983): by the time the
race is a fraction p through its budget (of seconds or runs, or of its most looks, whichever is further; 1 at its
last look) its looks together may have spent ``alpha_spent(alpha, p)`` = alpha · p², and each look tests at what
it adds (Bonferroni over the looks as well as the pairs). So a race that the budget ends after 2 looks spends
nearly all of alpha on them, not 2/9 of it, and the chance that the true best is ever dropped stays under alpha
(checked by simulation, tests/test_race.py). Progress is measured from time and runs spent, never from scores.

The race stops when one strategy is left, when every one left is *equivalent* to the leader within the margin
(then the cheapest on ``prefer`` is chosen where it is materially cheaper), when the seed runs reach
``max_seeds``, or when the budget is spent; the last two answer with the strategies still in, undetermined. A budget in runs with one worker and a seeded sampler gives
the same race every time; a time budget does not.

Its state (each look's trace and drops) is kept in the storage, so a killed race resumes at its last look.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

import numpy as np
import optuna

from peftbench.constraints import DEFAULT_PREFERENCE, MATERIAL, PREFERENCES, Constraints, broken
from peftbench.records import RaceLook, RaceRecord, RunResult
from peftbench.strategy import Strategy
from studies import queue
from studies.compare import HALVING_RATE, Comparison, Round, Screen, seeds_study_name, study_name
from studies.results import RACE_JUDGES_AT, first_failure, judged_configuration, load_or_none, stored_seed_runs

log = logging.getLogger("peftbench.race")
DEFAULT_TIME_BUDGET = 15 * 60  # seconds: answers on the quick preset, 2 CPU cores (README, "Choose a strategy")
DEFAULT_MAX_SEEDS = 10  # seed runs per strategy a race may add (--max-seeds)
STATE = "race_state"  # user attribute of the race's own study: its state after the last look
SCREEN_RUNGS = 2  # the dev evaluations of a defaults trial that screen it (quick preset: 512 and 1,024 of 2,000 samples)
# --screen auto screens more strategies than this: at the quick preset on 2 CPU cores a strategy's first round
# (its defaults trial and a second seed run) takes about 41 s, so 12 fill half of the default 15 minutes
SCREEN_ABOVE = 12
SCREEN_SETTINGS = ("auto", "on", "off")
SCREENED = "screened out"  # how a screened-out trial's reason starts
# alpha spent by progress p through the race: alpha · p ** SPENDING_POWER (Kim & DeMets 1987's power family; 1 spends
# like Pocock's bounds, 3 like O'Brien & Fleming's). In the simulated races of benchmarks/race_spending.py all three
# held the error rate; 2 and 3 dropped about as often, 2 sooner (benchmarks/NOTES.md, "Spending alpha over ...")
SPENDING_POWER = 2


@dataclass(frozen=True)
class RaceSettings:
    margin: float | None = None  # the equivalence margin; None: the engine's default for the metric
    alpha: float = 0.05
    budget_kind: str = "seconds"  # seconds | runs
    budget: float = DEFAULT_TIME_BUDGET
    max_seeds: int = DEFAULT_MAX_SEEDS
    prefer: str = DEFAULT_PREFERENCE  # a key of peftbench.constraints.PREFERENCES
    constraints: Constraints = Constraints()
    screen: bool = False  # round 1 screens the strategies' defaults trials (successive halving across strategies)

    @property
    def looks(self) -> int:
        """Round r ends with r + 1 seed runs, so there are at most max_seeds − 1 looks."""
        return self.max_seeds - 1


def alpha_spent(alpha: float, progress: float, power: float = SPENDING_POWER) -> float:
    """The part of ``alpha`` that the looks up to ``progress`` (0 to 1 of the race) may spend together."""
    return alpha * min(max(progress, 0.0), 1.0) ** power


def progress_at(used: float, budget: float, look: int, looks: int, before: float, last: bool) -> float:
    """How far through the race a look is: 1 at its last look, else the fraction of its budget or of its most looks
    used, whichever is further (never behind the look ``before``). From time and runs alone, never from scores."""
    return 1.0 if last else min(1.0, max(used / budget, look / looks, before))


def look_alpha(alpha: float, before: float, now: float, power: float = SPENDING_POWER) -> float:
    """The alpha a look at progress ``now`` tests at, the previous look having been at ``before``."""
    return alpha_spent(alpha, now, power) - alpha_spent(alpha, before, power)


def screens(setting: str, strategies: int) -> bool:
    """Whether a race of ``strategies`` screens them in round 1 (``--screen``: auto, on or off)."""
    return setting == "on" or (setting == "auto" and strategies > SCREEN_ABOVE)


def halving_bar(values: list[float]) -> float:
    """Successive halving's bar at a rung (Optuna's ``SuccessiveHalvingPruner``): the worst of the best
    1/HALVING_RATE of ``values``; with fewer than HALVING_RATE values, the best."""
    return sorted(values, reverse=True)[max(len(values) // HALVING_RATE - 1, 0)]


def goes_on(value: float, others: list[float]) -> bool:
    """Whether a value goes on past its rung: it reaches the bar of the values there, itself included."""
    return value >= halving_bar([value, *others])


def schedule(round_: int, trials: int, max_seeds: int, tuned: int = 1, tune: bool = True) -> tuple[int, int]:
    """(tuning trials, seed runs) each strategy still in has after round ``round_``: its defaults and 2 seed runs
    after round 1; one seed run more after each later round, and all ``trials`` once a round ``tune``s (before
    that, the ``tuned`` so far)."""
    return (1, 2) if round_ == 1 else (trials if tune else tuned, min(round_ + 1, max_seeds))


def affords_tuning(used: float, budget: float, run_lengths: list[float], more_trials: int, workers: int = 1) -> bool:
    """Whether the budget left pays for ``more_trials`` tuning trials and a seed run of every strategy still in
    (``run_lengths``: each one's run, in the budget's unit), so that a round which tunes still ends in a look with a
    seed run more. From time and runs alone, never from scores."""
    return used + (more_trials + 1) * sum(run_lengths) / workers <= budget


def drops(analysis, alpha: float) -> dict[str, str]:
    """The strategies one look drops, with why: every one the leader is *better* than (a corrected interval that
    excludes 0 and is not inside the margin; ``analysis`` was made at the look's ``alpha``)."""
    leader = analysis.ranking[0]
    return {pair.behind: f"{leader} is better by {pair.difference.estimate:+.3f} (corrected interval "
                         f"[{pair.difference.low:+.3f}, {pair.difference.high:+.3f}], this look's alpha {alpha:.3g} "
                         f"over {pair.comparisons} pairs)"
            for pair in analysis.pairs if pair.ahead == leader and pair.verdict == "better"}


@dataclass
class State:
    """What the race has decided so far, kept in the storage after every look."""

    look: int = 0
    seconds: float = 0.0  # race time spent before this process (a resumed race goes on counting)
    progress: float = 0.0  # how far through the race the last look was (alpha_spent of it is spent)
    out: dict[str, str] = field(default_factory=dict)  # dropped or excluded strategy → why
    excluded: list[str] = field(default_factory=list)  # of ``out``: those a constraint excluded
    failed: list[str] = field(default_factory=list)  # of ``out``: those whose runs failed
    screened: list[str] = field(default_factory=list)  # of ``out``: those round 1's screen stopped
    trace: list[dict] = field(default_factory=list)
    stopped: str | None = None
    answer: str | None = None
    top_group: list[str] = field(default_factory=list)
    round: int = 0  # the round published for workers, with its strategies, trials and seed runs
    alive: list[str] = field(default_factory=list)
    trials: int = 0
    seeds: int = 0
    tuning: list[int] = field(default_factory=list)  # the tuning trials each strategy still in had after each round


class Race:
    """One process of a race: the coordinator decides, every process runs the round's trials."""

    def __init__(self, comparison: Comparison, race: RaceSettings, say: Callable[[str], None] = lambda line: None):
        self.comparison = comparison
        self.race = race
        self.say = say
        self.settings = comparison.settings
        self.split = "test" if comparison.data.test is not None else "dev"
        self.study, _ = comparison.open_study(study_name(self.settings, "state"), "state")
        self.state = self.load()
        self.started = time.monotonic() - self.state.seconds
        self.defaults_curves: dict[str, dict[int, float]] = {}  # the screen's cache: finished defaults trials

    # ------------------------------------------------------------------ state
    def load(self) -> State:
        stored = self.study.user_attrs.get(STATE)
        return State(**json.loads(stored)) if stored else State()

    def save(self) -> None:
        self.state.seconds = self.elapsed()
        self.study.set_user_attr(STATE, json.dumps(asdict(self.state)))

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def used(self) -> float:
        """The budget used so far, in its own unit (runs or seconds)."""
        return self.comparison.finished_runs() if self.race.budget_kind == "runs" else self.elapsed()

    def spent(self) -> bool:
        """The budget is spent: no further run starts (the one running goes on)."""
        return self.used() >= self.race.budget

    # ------------------------------------------------------------------ the race
    def run(self, after_strategy: Callable[[], None] = lambda: None) -> RaceRecord:
        """Race until an answer or the end of the budget (the coordinator); returns the race's record."""
        if self.state.look == 0 and not self.state.out:
            self.exclude_before_training()
        while self.state.stopped is None:
            alive = self.alive()
            self.state.round = self.state.look + 1
            self.state.trials, self.state.seeds = schedule(self.state.round, self.trials(), self.race.max_seeds,
                                                           self.state.trials, self.tunes(alive))
            self.state.tuning[self.state.round - 1:] = [self.state.trials]
            self.state.alive = [strategy.name for strategy in alive]
            self.save()  # published: workers run this round too
            self.comparison.run(after_strategy, Round(alive, self.state.trials, self.state.seeds, by_configuration=True,
                                                      should_stop=self.spent, screen=self.screen_of(self.state.round)))
            self.state.look += 1
            self.decide(alive, budget_spent=self.spent())
            self.save()
        return self.record()

    def work(self) -> None:
        """A worker process: run each round the coordinator publishes, until it stops the race."""
        done = 0
        while True:
            self.state = self.load()
            if self.state.stopped is not None:
                return
            if self.state.round > done:
                alive = [s for s in self.settings.strategies if s.name in self.state.alive]
                self.comparison.run(plan=Round(alive, self.state.trials, self.state.seeds, by_configuration=True,
                                               should_stop=lambda: self.load().stopped is not None,
                                               screen=self.screen_of(self.state.round)))
                done = self.state.round
            time.sleep(1.0)

    # ------------------------------------------------------------------ the screen
    def screen_of(self, round_: int) -> Screen | None:
        """Round 1's screen when the race screens, else none."""
        return self.screen if self.race.screen and round_ == 1 else None

    def screen(self, name: str, evaluation: int, samples: int, value: float) -> str | None:
        """Why a defaults trial stops at this dev evaluation (``goes_on``), or None: it goes on."""
        if evaluation > SCREEN_RUNGS:
            return None
        others = [other for strategy in self.state.alive if strategy != name
                  if (other := self.defaults_value(strategy, samples)) is not None]
        if goes_on(value, others):
            return None
        competing = len(others) + 1
        best = f"the best 1/{HALVING_RATE}" if competing >= HALVING_RATE else "the best"
        return (f"{SCREENED} after {samples:,} samples: dev {value:.4f}, below {best} of the {competing} "
                f"strategies' defaults there (≥ {halving_bar([value, *others]):.4f}); successive halving, not a test")

    def defaults_value(self, name: str, samples: int) -> float | None:
        """A strategy's defaults trial's dev value after ``samples`` samples, where it has reached that point."""
        if name in self.defaults_curves:
            return self.defaults_curves[name].get(samples)
        tuning = load_or_none(self.comparison, study_name(self.settings, name))
        for trial in queue.trials(tuning) if tuning is not None else []:  # none: not started
            if samples in trial.intermediate_values:
                if trial.state.is_finished():
                    self.defaults_curves[name] = dict(trial.intermediate_values)
                return trial.intermediate_values[samples]
        return None

    def screened_out(self, name: str) -> str | None:
        """Why the screen stopped a strategy's defaults trial, or None if it did not."""
        tuning = optuna.load_study(study_name=study_name(self.settings, name), storage=self.comparison.storage)
        return next((reason for trial in queue.trials(tuning, optuna.trial.TrialState.PRUNED)
                     if (reason := trial.user_attrs.get(queue.REASON, "")).startswith(SCREENED)), None)

    def trials(self) -> int:
        return int(self.settings.budget) if self.settings.budget_kind == "trials" else self.settings.preset.trials

    def run_length(self, strategy: type[Strategy]) -> float:
        """One run of a strategy in the budget's unit: one run, or its tuning trials' mean seconds (a first seed run
        only rescores its trial); 0 before any."""
        if self.race.budget_kind == "runs":
            return 1.0
        tuning = load_or_none(self.comparison, study_name(self.settings, strategy.name))
        spent = self.comparison.spent(tuning) if tuning is not None else {"trials": 0}
        return spent["seconds"] / spent["trials"] if spent["trials"] else 0.0

    def tunes(self, alive: list[type[Strategy]]) -> bool:
        """Whether the round about to start runs the rest of the tuning trials (``affords_tuning``)."""
        more = self.trials() - self.state.trials
        if self.state.round == 1 or more <= 0:
            return False
        lengths = [self.run_length(strategy) for strategy in alive]
        if affords_tuning(self.used(), self.race.budget, lengths, more, self.settings.workers):
            return True
        self.say(f"race: round {self.state.round} adds seed runs first: the budget left does not pay for {more} more "
                 f"tuning trial{'s' * (more != 1)} of each of the {len(alive)} strategies still in")
        return False

    def alive(self) -> list[type[Strategy]]:
        return [strategy for strategy in self.settings.strategies if strategy.name not in self.state.out]

    def exclude_before_training(self) -> None:
        """Constraints known before any training (trainable parameters, at the strategy's defaults)."""
        limits = [limit for limit in self.race.constraints.limits() if limit.before_training]
        if not limits:
            return
        from peftbench.build import build_model
        from peftbench.classifier import count_parameters

        for strategy in self.settings.strategies:
            trainable, _ = count_parameters(build_model(self.settings.run, strategy(),
                                                        self.comparison.data.spec.num_labels, total_steps=100))
            reasons = [reason for limit in limits if (reason := limit.exceeded(trainable, self.race.constraints))]
            if reasons:
                self.drop(strategy.name, f"{'; '.join(reasons)}, at its defaults, before any training", excluded=True)
                self.state.trace.append(asdict(RaceLook(
                    look=0, seconds=round(self.elapsed(), 1), strategy=strategy.name, configuration=-1, seed_runs=0,
                    samples=0, run_seconds=0.0, estimate=None, low=None, high=None, status="excluded",
                    reason=self.state.out[strategy.name])))

    def drop(self, name: str, reason: str, excluded: bool = False) -> None:
        self.state.out[name] = reason
        if excluded:
            self.state.excluded.append(name)
        self.say(f"race: {'excluded' if excluded else 'dropped'} {name}: {reason}")

    # ------------------------------------------------------------------ a look
    def current(self, strategy: type[Strategy]) -> tuple[int, list[RunResult]]:
        """The configuration the race judges a strategy by (its tuning trial's number, ``judged_configuration``)
        and that configuration's seed runs."""
        tuning = optuna.load_study(study_name=study_name(self.settings, strategy.name), storage=self.comparison.storage)
        chosen = judged_configuration(self.comparison, strategy.name, tuning)
        if chosen is None:
            return -1, []
        return chosen.number, stored_seed_runs(self.comparison, seeds_study_name(self.settings, strategy.name, chosen.number))

    def decide(self, alive: list[type[Strategy]], budget_spent: bool) -> None:
        """The look after a round: constraints measured by now, the engine's verdicts, drops, and whether to stop."""
        from reports.confidence import RowValues, analyse

        runs = {strategy.name: self.current(strategy) for strategy in alive}
        for name, (_, done) in runs.items():
            if reasons := broken(done, self.race.constraints):
                self.drop(name, "; ".join(reasons), excluded=True)
        measured = {name: done for name, (_, done) in runs.items() if name not in self.state.out and
                    sum(1 for run in done if run.predictions and self.split in run.predictions) >= RACE_JUDGES_AT}
        for name in [name for name in runs if name not in measured and name not in self.state.out]:
            if self.race.screen and (reason := self.screened_out(name)):
                self.state.screened.append(name)
                self.drop(name, reason)
        if not budget_spent:  # the round ran to its end: a strategy still unmeasured failed
            for name in [name for name in runs if name not in measured and name not in self.state.out]:
                failure = first_failure(self.comparison, self.comparison.study_names(name))
                self.state.failed.append(name)
                self.drop(name, f"no result: {failure or 'its runs failed'}")
        labels = self.comparison.data.test if self.split == "test" else self.comparison.data.dev
        gold = RowValues(np.arange(len(labels)), np.asarray(labels["label"]))
        progress = progress_at(self.used(), self.race.budget, self.state.look, self.race.looks, self.state.progress,
                               last=budget_spent or self.state.seeds >= self.race.max_seeds)
        alpha = look_alpha(self.race.alpha, self.state.progress, progress)
        self.state.progress = progress
        analysis = None
        if len(measured) >= 2:
            analysis = analyse({name: [RowValues(np.arange(len(run.predictions[self.split])),
                                                 np.asarray(run.predictions[self.split]))
                                       for run in done if run.predictions and self.split in run.predictions]
                                for name, done in measured.items()},
                               gold, self.comparison.data.spec.metric, self.race.margin,
                               alpha, self.comparison.data.spec.num_labels)
            for name, reason in drops(analysis, alpha).items():
                self.drop(name, reason)
        self.trace(runs, analysis, alpha)
        ranked = analysis.ranking if analysis is not None else []
        left = [name for name in dict.fromkeys([*ranked, *measured]) if name not in self.state.out]  # leader first
        unmeasured = [s.name for s in alive if s.name not in measured and s.name not in self.state.out]
        if not unmeasured and len(left) == 1:
            self.stop("one left", left[0], left)
        elif not unmeasured and analysis is not None and len(left) > 1 and all(
                analysis.pair(left[0], other).verdict == "equivalent" for other in left[1:]):
            self.stop("all equivalent", self.cheapest(left, {name: measured[name] for name in left}), left)
        elif budget_spent:
            self.stop("budget", None, left)
        elif self.state.seeds >= self.race.max_seeds:
            self.stop("seeds", None, left)

    def cheapest(self, left: list[str], runs: dict[str, list[RunResult]]) -> str:
        """Among strategies equivalent to the leader (``left[0]``): the cheapest on ``prefer``, where it is at least
        MATERIAL cheaper than the leader; else the leader."""
        cost = PREFERENCES[self.race.prefer].measure

        def worst(name: str) -> float:
            values = [value for run in runs[name] if (value := cost(run)) is not None]
            return max(values) if values else math.inf

        leader = left[0]
        cheapest = min(left, key=worst)
        return cheapest if worst(cheapest) <= (1 - MATERIAL) * worst(leader) else leader

    def stop(self, why: str, answer: str | None, left: list[str]) -> None:
        self.state.stopped, self.state.answer, self.state.top_group = why, answer, left
        self.say(f"race: stopped ({why}); " + (f"answer: {answer}" if answer else
                                               f"undetermined among {', '.join(left) or 'none measured'}"))

    def trace(self, runs: dict[str, tuple[int, list[RunResult]]], analysis, alpha: float) -> None:
        for name, (configuration, done) in runs.items():
            spent = self.comparison.spent_by(name)
            score = analysis.scores.get(name) if analysis is not None else None
            status = ("excluded" if name in self.state.excluded else "dropped") if name in self.state.out else "racing"
            self.state.trace.append(asdict(RaceLook(
                look=self.state.look, seconds=round(self.elapsed(), 1), strategy=name, configuration=configuration,
                seed_runs=len(done), samples=spent["samples"], run_seconds=round(spent["seconds"], 1),
                estimate=score.estimate if score else None, low=score.low if score else None,
                high=score.high if score else None, status=status, reason=self.state.out.get(name),
                alpha=alpha if analysis is not None else None)))

    def record(self) -> RaceRecord:
        state = self.state
        measured = {look["strategy"] for look in state.trace if look["seed_runs"] >= RACE_JUDGES_AT}
        return RaceRecord(
            margin=self.margin(), alpha=self.race.alpha, looks=self.race.looks, split=self.split,
            budget_kind=self.race.budget_kind, budget=self.race.budget, prefer=self.race.prefer,
            stopped=state.stopped, answer=state.answer, top_group=list(state.top_group),
            unmeasured=[s.name for s in self.settings.strategies if s.name not in measured and s.name not in state.out],
            failed=list(state.failed), screened=list(state.screened), spending_power=SPENDING_POWER,
            tuning_trials=list(state.tuning),
            reproducible=self.race.budget_kind == "runs" and self.settings.workers == 1,
            trace=[RaceLook(**look) for look in state.trace])

    def margin(self) -> float:
        from reports.confidence import DEFAULT_MARGINS

        return self.race.margin if self.race.margin is not None else DEFAULT_MARGINS[self.comparison.data.spec.metric]


def with_race_suffix(settings):
    """A race's settings: its study names end in ``-race``, so a race and a comparison of the same task and model
    never share a study, even in one storage."""
    return replace(settings, study_suffix=settings.study_suffix + "-race")
