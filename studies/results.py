"""A comparison's record (``peftbench.records.ComparisonRecord``, written as ``results.json`` by ``peftbench.schema``),
rebuilt from the Optuna storage. The format is documented in docs/results-schema.md."""

from __future__ import annotations

import json
import os
import platform
import socket
import warnings
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
import optuna
from optuna.trial import TrialState

from peftbench.costs import device_description, versions
from peftbench.layout import LOG_FILE, ComparisonDir
from peftbench.records import (BestTrial, Budget, ComparisonRecord, Failure, FrontConfig, ModelRecord, RaceRecord,
                          RunResult, StrategyRecord, TaskRecord, TrialRecord)
from peftbench.schema import KIND, SCHEMA_VERSION
from peftbench.strategy import Strategy
from peftbench.train import resolve_device
from studies import queue, space
from studies.compare import (Comparison, front_trials, repeated_trials, seed_results, seeded_configurations,
                             seeds_study_name, study_name)



def trial_record(trial: optuna.trial.FrozenTrial, objectives: list[str]) -> TrialRecord:
    """``objectives``: the metric and costs of a multi-objective study, whose trials also carry ``values``."""
    return TrialRecord(
        number=trial.number, state=trial.state.name, params=trial.params,
        value=trial.values[0] if trial.values else None,  # the dev metric, also of a multi-objective trial
        duration_seconds=trial.duration.total_seconds() if trial.duration is not None else None,
        samples_seen=trial.user_attrs.get("samples_seen", 0), intermediate=intermediate(trial),
        reason=trial.user_attrs.get(queue.REASON), retry_of=trial.system_attrs.get("failed_trial"),
        values=named_values(trial, objectives) if len(objectives) > 1 else None,
    )


def intermediate(trial: optuna.trial.FrozenTrial) -> list[tuple[float, float]]:
    """(samples seen, dev metric) at each evaluation: what the trial reported to Optuna, or for a
    multi-objective trial (which cannot report) its learning curve."""
    if trial.intermediate_values:
        return sorted((int(step), value) for step, value in trial.intermediate_values.items())
    return [(point["samples"], point["value"]) for point in trial.user_attrs.get("learning_curve", [])
            if point.get("value") is not None]


def named_values(trial: optuna.trial.FrozenTrial, objectives: list[str]) -> dict[str, float] | None:
    return dict(zip(objectives, trial.values)) if trial.values else None


def front_record(comparison: Comparison, strategy: type[Strategy], trial: optuna.trial.FrozenTrial,
                 objectives: list[str], seeded: bool) -> FrontConfig:
    """One configuration on a strategy's Pareto set, with its seed runs when it is one of those re-run."""
    name = seeds_study_name(comparison.settings, strategy.name, trial.number)
    return FrontConfig(trial=trial.number, values=named_values(trial, objectives), params=trial.params,
                       strategy_params=space.from_params(trial.params, strategy)["strategy_params"],
                       seed_runs=stored_seed_runs(comparison, name) if seeded else [])


def stored_seed_runs(comparison: Comparison, name: str) -> list[RunResult]:
    """The seed run records of the study ``name``, by seed; none while it does not exist."""
    seeds = load_or_none(comparison, name)
    if seeds is None:
        return []
    repeats = repeated_trials(seeds)
    return [replace(r, repeats_trial=repeats.get(r.seed)) for r in sorted(seed_results(seeds), key=lambda r: r.seed)]


RACE_JUDGES_AT = 2  # seed runs a configuration needs before a race judges a strategy by it (seed variance)


def judged_configuration(comparison: Comparison, strategy: str, tuning: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The configuration a race judges a strategy by: its best tuning trial with RACE_JUDGES_AT seed runs, else its
    best. A new best found late in a race has no seed runs yet; until it has, the configuration before it still
    measures the strategy, which must not leave the answer for want of runs."""
    complete = sorted(queue.trials(tuning, TrialState.COMPLETE), key=lambda trial: (-trial.value, trial.number))
    for trial in complete:
        if len(stored_seed_runs(comparison, seeds_study_name(comparison.settings, strategy, trial.number))) >= RACE_JUDGES_AT:
            return trial
    return complete[0] if complete else None


def load_or_none(comparison: Comparison, name: str) -> optuna.Study | None:
    try:
        return optuna.load_study(study_name=name, storage=comparison.storage)
    except KeyError:
        return None


def seed_slots_used(comparison: Comparison, names: list[str]) -> list[int]:
    """Per seed study: the slots that ended (a seed run finished or failed for good), 0 while it does not exist."""
    studies = [load_or_none(comparison, name) for name in names]
    return [len(queue.counted_trials(study)) if study is not None else 0 for study in studies]


def first_failure(comparison: Comparison, names: list[str]) -> str | None:
    """The first line of the reason of the first run that failed in the studies ``names`` (tuning first)."""
    for name in names:
        study = load_or_none(comparison, name)
        for trial in queue.trials(study, TrialState.FAIL) if study is not None else []:
            reason = trial.user_attrs.get(queue.REASON)
            if reason:
                return reason.strip().splitlines()[0]
    return None


def strategy_record(comparison: Comparison, strategy: type[Strategy], race: RaceRecord | None = None) -> StrategyRecord:
    """A strategy's record; in a race, the seed runs of the configuration it judged the strategy by stand for it
    (``judged_configuration``; each configuration has its own seed runs there) and its status is where the race
    left it."""
    settings = comparison.settings
    name = study_name(settings, strategy.name)
    info = strategy.info()
    try:
        study = optuna.load_study(study_name=name, storage=comparison.storage)
    except KeyError:
        return StrategyRecord(info=info, status="pending" if race is None else race_status(strategy.name, race),
                              study_name=name, trials=[], spent={}, best=None, param_importance=None, seed_runs=[])
    finished = [t for t in queue.trials(study) if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
                or (t.state == TrialState.FAIL and t.user_attrs.get(queue.COUNTED))]
    complete = [t for t in finished if t.state == TrialState.COMPLETE]
    objectives = [comparison.data.spec.metric, *settings.costs]
    front, seeded = [], set()
    best = None
    if complete and settings.multi_objective:  # the best-scoring configuration of the front stands for the strategy
        seeded = {t.number for t in seeded_configurations(study)}
        front = [front_record(comparison, strategy, t, objectives, t.number in seeded) for t in front_trials(study)]
        best = BestTrial(trial=front[0].trial, value=front[0].values[objectives[0]], params=front[0].params)
    elif complete:  # in a race, the configuration it judged the strategy by
        top = study.best_trial if race is None else judged_configuration(comparison, strategy.name, study)
        best = BestTrial(trial=top.number, value=top.value, params=top.params)
    configuration = best.trial if race is not None and best is not None else None
    runs = front[0].seed_runs if front else \
        stored_seed_runs(comparison, seeds_study_name(settings, strategy.name, configuration))
    budget_done = len(finished) >= settings.budget if settings.budget_kind == "trials" else \
        comparison.spent(study)[settings.budget_kind] >= settings.budget
    configurations = [runs] + [f.seed_runs for f in front if f.trial in seeded]
    seed_studies = [seeds_study_name(settings, strategy.name, number) for number in sorted(seeded)] if front else \
        [seeds_study_name(settings, strategy.name)]
    status = strategy_status(budget_done, bool(complete), [len(r) for r in configurations],
                             seed_slots_used(comparison, seed_studies), settings.seeds) if race is None else \
        race_status(strategy.name, race)
    if race is not None:
        seed_studies = comparison.study_names(strategy.name)[1:]
    error = None
    if status in (FAILED, PARTIAL):
        message = first_failure(comparison, [name, *seed_studies]) or "no run failed with a recorded reason"
        error = Failure(message=message, log=LOG_FILE)
    return StrategyRecord(info=info, status=status, error=error, study_name=name,
                          trials=[trial_record(t, objectives) for t in finished],
                          spent=comparison.spent(study) if race is None else comparison.spent_by(strategy.name),
                          best=best, param_importance=importance(study) if len(complete) >= 2 else None,
                          seed_runs=runs, front=front)


DONE, RUNNING, PARTIAL, FAILED = "done", "running", "partial", "failed"  # a strategy's status (besides "pending")
DROPPED, EXCLUDED, UNMEASURED = "dropped", "excluded", "unmeasured"  # a race's statuses besides DONE and FAILED


def race_status(name: str, race: RaceRecord) -> str:
    """Where a race left a strategy: still in at the end (done), dropped, excluded by a constraint, failed, or never
    measured before the budget ran out."""
    if name in race.failed:
        return FAILED
    if name in race.unmeasured:
        return UNMEASURED
    last = next((look for look in reversed(race.trace) if look.strategy == name), None)
    return {"dropped": DROPPED, "excluded": EXCLUDED}.get(last.status if last else "", DONE)


def strategy_status(budget_done: bool, tuned: bool, seed_runs: list[int], slots_used: list[int], seeds: int) -> str:
    """done: every seed run of every re-run configuration finished; failed: no tuning trial completed, or no
    seed run did; partial: some seed runs failed for good; running: runs are still to come."""
    if not budget_done:
        return RUNNING
    if not tuned:
        return FAILED
    if all(count >= seeds for count in seed_runs):
        return DONE
    if slots_used and all(used >= seeds for used in slots_used):  # every seed slot ended: the missing ones failed
        return PARTIAL if any(seed_runs) else FAILED
    return RUNNING


def importance(study: optuna.Study) -> dict[str, float] | None:
    """PED-ANOVA importance of each searched hyperparameter (fANOVA would need scikit-learn);
    None where Optuna cannot compute it (too few or constant trials). A value with a single choice
    (e.g. the quick preset's batch size) was not searched and is left out rather than shown as 0."""
    searched = sorted({name for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                       for name, distribution in trial.distributions.items() if not distribution.single()})
    if not searched:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "importances will be equal" with few trials: the numbers say so
            evaluator = optuna.importance.PedAnovaImportanceEvaluator()
            found = optuna.importance.get_param_importances(study, evaluator=evaluator, params=searched)
        return {k: float(v) for k, v in found.items()}
    except (RuntimeError, ValueError):
        return None


def build(comparison: Comparison, storage_label: str, created: str | None = None,
          race: RaceRecord | None = None) -> ComparisonRecord:
    settings = comparison.settings
    data = comparison.data
    strategies = {strategy.name: strategy_record(comparison, strategy, race) for strategy in settings.strategies}
    total = next((r.total_params for s in strategies.values() for r in s.seed_runs), None)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return ComparisonRecord(
        schema_version=SCHEMA_VERSION, kind=KIND,
        complete=all(s.status in (DONE, PARTIAL, FAILED, DROPPED, EXCLUDED, UNMEASURED) for s in strategies.values()),
        # the requested strategies without every seed run: a comparison that ends with any is partial (exit 3)
        partial=[name for name, s in strategies.items() if s.status in (PARTIAL, FAILED)],
        created=created or now, updated=now,
        task=TaskRecord(name=data.spec.name, metric=data.spec.metric, num_labels=data.spec.num_labels,
                        source=data.source, sizes=data.sizes(), full_train_size=data.full_train_size,
                        protocol=data.protocol, splits=data.splits, notes=list(data.notes),
                        metric_reason=data.spec.metric_reason,
                        labels={name: list(split["label"]) for name, split in
                                (("dev", data.dev), ("test", data.test)) if split is not None}),
        model=ModelRecord(name=settings.model, total_params=total),
        preset=settings.preset.name,
        settings={
            **settings.identity(), "seeds": settings.seeds, "sampler": settings.sampler, "pruner": settings.pruner,
            "sampler_seed": settings.sampler_seed, "trials_preset": settings.preset.trials,
            "startup_trials": settings.startup_trials,
            "workers": settings.workers, "first_trial": "defaults",
            "gradient_checkpointing": settings.run.gradient_checkpointing, **settings.extra,
        },
        budget=Budget(kind=settings.budget_kind, per_strategy=settings.budget),
        storage=storage_label,
        environment={
            "device": device_description(resolve_device(settings.run.device)),
            "hostname": socket.gethostname(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "versions": versions(),
        },
        parallel=settings.workers > 1 or settings.extra.get("shared_storage", False),
        strategies=strategies, skipped=dict(settings.skipped), race=race,
    )


def previous_created(out: Path) -> str | None:
    """When the comparison in ``out`` was first written, if it was."""
    try:
        return json.loads(ComparisonDir(out).results.read_text()).get("created")
    except (OSError, ValueError, AttributeError):
        return None
