"""A comparison: for every strategy an Optuna study over its hyperparameters on an equal budget, then
the best configuration re-trained with several seeds, everything kept in Optuna storage.

Each strategy has two studies in the storage: ``<name>`` (tuning trials, on dev only) and
``<name>-seeds`` (one enqueued trial per seed, trained on train, scored on dev *and* the held-out
split). Re-running the same command finds both and carries on: finished trials and seed runs are
never repeated, and the slot of a trial whose process died is run again (``studies.queue``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from peftbench.config import TrainConfig
from peftbench.costs import release_freed_memory
from peftbench.errors import MemoryCapExceeded, TrainingDiverged, UserError
from peftbench.metrics import undefined_reason
from peftbench.pareto import COSTS, front_indices, spread
from peftbench.records import RunResult
from peftbench.schema import parse, to_json
from peftbench.strategy import Strategy
from peftbench.task_types import TaskData
from peftbench.tasks import HELDOUT_FROM_TRAIN, load_task
from peftbench.artifacts import WEIGHTS_FILE
from peftbench.layout import ComparisonDir, model_short_name, task_label
from peftbench.train import rescore, train
from studies import queue, space
from studies.presets import Preset

log = logging.getLogger("peftbench.compare")
BUDGET_KINDS = ("trials", "samples", "seconds")
SAMPLERS = ("tpe", "random")
PRUNERS = ("halving", "median", "hyperband", "none")
DEFAULT_PRUNER = "halving"  # for a single objective; Optuna cannot prune multi-objective studies (then "none")
HALVING_RATE = 3  # successive halving: at each rung, a trial goes on if it is in the best 1/3 of those that reached it
# what a pruned trial's reason says it fell short of, per pruner
PRUNED_BELOW = {"halving": f"the best 1/{HALVING_RATE} of the trials that reached this point (successive halving)",
                "median": "the median of earlier trials", "hyperband": "the best of its Hyperband bracket"}
SEED_RESULT = "result"  # user attribute of a seed trial: its RunResult record
TRIAL_RESULT = "run_record"  # user attribute of a completed tuning trial: its RunResult, for a seed run repeating it
REPEATED_TRIAL = "repeats_trial"  # user attribute of a seed run that is its tuning trial rescored, not retrained
MAX_TRIALS = 100_000  # a queue of enqueued trials; more than this is a typo, not a plan
READY = "queue_ready"  # study user attribute: the creator has enqueued every slot
FRONT_SEED_CONFIGS = 3  # multi-objective: seed runs for at most this many of a strategy's front (peftbench.pareto.spread)
# Settings that change what a study measures; a stored study run with other values is not resumed.
IDENTITY = ("task", "model", "metric", "train_size", "carve_size", "protocol", "epochs", "max_length", "pooling", "data_seed",
            "batch_sizes", "evals_per_epoch", "min_steps", "data_dir", "text_columns", "label_column", "drop_invalid_rows",
            "cost_objectives")


# a race's screen: called at each of a tuning trial's dev evaluations before its last with (strategy, the evaluation's
# number from 1, samples seen, dev value); a reason stops the trial (pruned)
Screen = Callable[[str, int, int, float], "str | None"]


@dataclass(frozen=True)
class Round:
    """What one pass of ``Comparison.run`` does: the strategies it runs, up to how many tuning trials and seed
    runs each (None: the comparison's budget and seeds), whether each configuration's seed runs get a study of
    their own (a race's best configuration can change between rounds), and when to stop starting runs."""

    strategies: list[type[Strategy]]
    trials: int | None = None
    seeds: int | None = None
    by_configuration: bool = False
    should_stop: Callable[[], bool] = lambda: False
    screen: Screen | None = None  # a race's round 1 screen (studies.race)


@dataclass
class ComparisonSettings:
    """Everything that decides a comparison: what every run shares (``run``, a ``TrainConfig`` template:
    task, model, data, length, pooling, device), the preset's search shape, the strategies and the budget."""

    run: TrainConfig
    preset: Preset
    strategies: list[type[Strategy]]
    budget_kind: str = "trials"
    budget: float | None = None  # None: the preset's trials (the presets are the one source of the defaults)
    seeds: int | None = None  # None: the preset's seeds
    sampler: str = "tpe"
    pruner: str = DEFAULT_PRUNER
    sampler_seed: int = 0
    data_seed: int = 0
    workers: int = 1
    worker_index: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    objectives: tuple[str, ...] = ()  # --objectives: the task's metric, then costs (COSTS); () = the metric alone
    study_suffix: str = ""  # ends every study name; a sweep's sizes (--train-sizes) use theirs to share a storage
    skipped: dict[str, str] = field(default_factory=dict)  # requested, but cannot run here: name → why (preflight)

    def __post_init__(self):
        if self.budget is None:
            self.budget_kind, self.budget = "trials", self.preset.trials
        if self.seeds is None:
            self.seeds = self.preset.seeds

    @property
    def task(self) -> str:
        return self.run.task

    @property
    def model(self) -> str:
        return self.run.model

    @property
    def names(self) -> list[str]:
        return [strategy.name for strategy in self.strategies]

    @property
    def startup_trials(self) -> int:
        """TPE's random start-up trials per study (results.json records it: the expected-best curves use only
        trials drawn before the model took over). At least 3 (the defaults and two random draws, the fewest an
        expected-best curve is drawn from), half the budget on larger ones up to TPE's own default of 10, and always
        one trial left to TPE."""
        budget = int(self.budget)
        return max(1, min(budget - 1, max(3, min(10, budget // 2))))

    @property
    def costs(self) -> tuple[str, ...]:
        """The objectives minimised beside the metric; none for a single-objective comparison."""
        return self.objectives[1:]

    @property
    def multi_objective(self) -> bool:
        return bool(self.costs)

    def check_metric(self, metric: str) -> None:
        """--objectives must start with the task's metric (what every trial is scored on)."""
        if self.objectives and self.objectives[0] != metric:
            raise UserError(f"--objectives must start with the task's metric, {metric!r}, not "
                            f"{self.objectives[0]!r} (then any of {', '.join(COSTS)})")

    def identity(self) -> dict[str, Any]:
        run = self.run
        values = {"task": run.task, "model": run.model, "metric": run.metric, "train_size": run.train_size,
                  "carve_size": run.carve_size, "protocol": run.protocol, "epochs": self.preset.epochs, "max_length": run.max_length,
                  "pooling": run.pooling, "data_seed": self.data_seed, "batch_sizes": list(self.preset.batch_sizes),
                  "evals_per_epoch": self.preset.evals_per_epoch,
                  "min_steps": self.preset.min_steps, "data_dir": run.data_dir,
                  "text_columns": list(run.text_columns), "label_column": run.label_column,
                  "drop_invalid_rows": run.drop_invalid_rows, "cost_objectives": list(self.costs)}
        return {key: values[key] for key in IDENTITY}

    def validate(self) -> None:
        if self.budget_kind not in BUDGET_KINDS:
            raise UserError(f"budget kind must be one of {', '.join(BUDGET_KINDS)}, got {self.budget_kind!r}")
        if not (self.budget > 0 and math.isfinite(self.budget)):
            raise UserError(f"the budget must be positive, got {self.budget:g}")
        if self.seeds < 1:
            raise UserError(f"--seeds must be at least 1, got {self.seeds}")
        if self.budget_kind == "trials" and self.budget > MAX_TRIALS:
            raise UserError(f"--trials {self.budget:g} is more than peftbench runs per strategy (at most {MAX_TRIALS:,})")
        if self.seeds > MAX_TRIALS:
            raise UserError(f"--seeds {self.seeds} is more than peftbench runs per strategy (at most {MAX_TRIALS:,})")
        for flag, seed in (("--sampler-seed", self.sampler_seed), ("--data-seed", self.data_seed)):
            if not 0 <= seed < 2**31:
                raise UserError(f"{flag} must be an integer in [0, 2**31 - 1], got {seed}")
        if self.sampler not in SAMPLERS or self.pruner not in PRUNERS:
            raise UserError(f"sampler must be one of {SAMPLERS} and pruner one of {PRUNERS}")
        if not self.strategies:
            raise UserError("no strategies to compare")
        if len(set(self.names)) != len(self.names):
            raise UserError(f"--strategies names a strategy twice: {','.join(self.names)}")
        self.validate_objectives()
        self.run.validate()

    def validate_objectives(self) -> None:
        if self.objectives and self.objectives[0] in COSTS:
            raise UserError(f"--objectives must start with the task's metric, then costs; got {self.objectives[0]!r} "
                            "first")
        unknown = [name for name in self.costs if name not in COSTS]
        if unknown:
            raise UserError(f"--objectives: unknown objective {unknown[0]!r}; after the task's metric come costs from "
                            f"{', '.join(COSTS)}")
        if len(set(self.objectives)) != len(self.objectives):
            raise UserError(f"--objectives names an objective twice: {','.join(self.objectives)}")
        if self.multi_objective and self.pruner != "none":
            raise UserError(f"--pruner {self.pruner}: Optuna cannot prune multi-objective studies; use --pruner none "
                            "(the default with --objectives)")


def study_name(settings: ComparisonSettings, strategy: str) -> str:
    name = f"{task_label(settings.task)}-{model_short_name(settings.model)}-{strategy}-{settings.preset.name}"
    return name + settings.study_suffix


def seeds_study_name(settings: ComparisonSettings, strategy: str, configuration: int | None = None) -> str:
    """The study of a strategy's seed runs: ``<tuning study>-seeds``. A multi-objective comparison re-runs
    several configurations of the front, each in its own ``<tuning study>-seeds-trial-<n>``, n being the
    tuning trial whose configuration it re-runs."""
    suffix = "-seeds" if configuration is None else f"-seeds-trial-{configuration}"
    return study_name(settings, strategy) + suffix


def load_data(settings: ComparisonSettings) -> TaskData:
    """The comparison's data, the same for every run: subsample and held-out carve use ``data_seed``."""
    return load_task(replace(settings.run, seed=settings.data_seed).task_request())


class Comparison:
    """One worker's view of a comparison; several workers (processes, machines) may share the storage."""

    def __init__(self, settings: ComparisonSettings, storage: optuna.storages.BaseStorage,
                 on_run_finished: Callable[[str], None] = lambda line: None, data: TaskData | None = None,
                 on_trial_stored: Callable[[optuna.Study, FrozenTrial], None] = lambda study, trial: None):
        """``data``: the comparison's data when the caller already loaded it (``load_data(settings)``, as
        runners.compare does to check the task before writing anything); else it is loaded here.
        ``on_trial_stored``: called with every run this process finishes, once its end is stored
        (``studies.trackers`` logs it)."""
        settings.validate()
        self.settings = settings
        self.storage = storage
        self.on_run_finished = on_run_finished
        self.on_trial_stored = on_trial_stored
        self.data = data if data is not None else load_data(settings)
        settings.check_metric(self.data.spec.metric)
        self.tuning_data = replace(self.data, test=None)  # the held-out split is for the seed runs only

    # ------------------------------------------------------------------ studies
    def sampler(self, strategy: str) -> optuna.samplers.BaseSampler:
        # each worker gets its own seed, or parallel workers would all propose the same first configs
        seed = self.settings.sampler_seed + 1000 * self.settings.worker_index + sum(map(ord, strategy))
        if self.settings.sampler == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=self.settings.startup_trials)

    def pruner(self) -> optuna.pruners.BasePruner:
        if self.settings.pruner == "halving":
            # the first rung is a trial's first dev evaluation, with the preset's smallest batch (the others
            # evaluate within a batch of it); at the quick preset: 1,024 of 2,000 samples, the only rung
            smallest = min(self.settings.preset.batch_sizes)
            first_evaluation = self.schedule(smallest, epochs=1)[1] * smallest
            return optuna.pruners.SuccessiveHalvingPruner(min_resource=first_evaluation, reduction_factor=HALVING_RATE,
                                                          min_early_stopping_rate=0)
        if self.settings.pruner == "median":
            return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
        if self.settings.pruner == "hyperband":
            samples = len(self.tuning_data.train) * self.settings.preset.epochs
            return optuna.pruners.HyperbandPruner(min_resource=max(1, samples // 8), max_resource=samples)
        return optuna.pruners.NopPruner()

    def directions(self) -> list[str]:
        """A tuning study's objectives: the dev metric is maximised, every cost (--objectives) minimised."""
        return ["maximize"] + ["minimize"] * len(self.settings.costs)

    def open_study(self, name: str, strategy: str,
                   directions: Sequence[str] = ("maximize",)) -> tuple[optuna.Study, bool]:
        """Load or create a study; check a loaded one measures the same thing. Returns (study, created)."""
        try:
            study = optuna.create_study(study_name=name, storage=self.storage, directions=list(directions),
                                        sampler=self.sampler(strategy), pruner=self.pruner())
            study.set_user_attr("settings", self.settings.identity())
            return study, True
        except optuna.exceptions.DuplicatedStudyError:
            study = optuna.load_study(study_name=name, storage=self.storage, sampler=self.sampler(strategy),
                                      pruner=self.pruner())
        stored = study.user_attrs.get("settings", {})
        if stored:  # settings a study stored before they existed had these values
            stored = {"protocol": HELDOUT_FROM_TRAIN, "min_steps": 0, "metric": None, **stored}
        for key, value in self.settings.identity().items():
            if key in stored and stored[key] != value:
                raise UserError(f"study {name} in this storage was run with {key}={stored[key]!r}, not {value!r}; "
                                f"use another --out (or --storage) for a different comparison")
        if len(study.directions) != len(directions):  # a study stored before its settings named its objectives
            raise UserError(f"study {name} in this storage has {len(study.directions)} objective(s), not "
                            f"{len(directions)}; use another --out (or --storage) for a different comparison")
        return study, False

    def queued_study(self, name: str, strategy: str, wanted: list[dict[str, Any]],
                     attrs: dict[str, Any] | None = None, directions: Sequence[str] = ("maximize",)) -> optuna.Study:
        """Open a study whose queue should hold one trial per entry of ``wanted`` (fixed params),
        counting trials already finished. Only the creator fills a new study (and sets ``attrs``);
        other workers wait until it says the queue is ready, so no slot is enqueued twice."""
        study, created = self.open_study(name, strategy, directions)
        if created:
            for key, value in (attrs or {}).items():
                study.set_user_attr(key, value)
        else:
            wait_until_ready(study)
        have = [json.dumps(t.system_attrs.get("fixed_params", {}), sort_keys=True) for t in queue.trials(study)
                if t.state != TrialState.FAIL or t.user_attrs.get(queue.COUNTED)]
        for params in wanted:
            key = json.dumps(params, sort_keys=True)
            if key in have:
                have.remove(key)
            else:
                study.enqueue_trial(params)
        if created:
            study.set_user_attr(READY, True)
        return study

    def first_trial(self, strategy: type[Strategy]) -> dict[str, Any]:
        """The fixed params of a study's first trial: the strategy's defaults (``space.defaults``)."""
        preset = self.settings.preset
        return space.defaults(strategy, preset.batch_sizes, preset.epochs)

    def tuning_study(self, strategy: type[Strategy], trials: int | None = None) -> optuna.Study:
        """The strategy's tuning study with ``trials`` slots (default: the budget's), the first its defaults."""
        slots = trials or (int(self.settings.budget) if self.settings.budget_kind == "trials" else 0)
        wanted = [self.first_trial(strategy)] + [{}] * (slots - 1) if slots else []
        return self.queued_study(study_name(self.settings, strategy.name), strategy.name, wanted,
                                 directions=self.directions())

    def seeds_study(self, strategy: type[Strategy], best_params: dict[str, Any],
                    configuration: int | None = None, seeds: int | None = None) -> optuna.Study:
        """The seed runs of one configuration, ``seeds`` slots (default: the comparison's seeds)."""
        return self.queued_study(seeds_study_name(self.settings, strategy.name, configuration), strategy.name,
                                 [{"seed": seed} for seed in range(seeds or self.settings.seeds)],
                                 {"params": best_params})

    def spent(self, study: optuna.Study) -> dict[str, float]:
        counted = queue.counted_trials(study)
        return {"trials": len(counted),
                "samples": sum(t.user_attrs.get("samples_seen", 0) for t in counted),
                "seconds": sum(t.duration.total_seconds() for t in counted if t.duration is not None)}

    def refill(self, study: optuna.Study, strategy: type[Strategy]) -> Callable[[], bool]:
        """For compute budgets: queue one more trial while the strategy has budget left, counting
        trials still running elsewhere at the mean cost so far (the last trial may overshoot). As with a
        trial budget, the first trial runs the strategy's defaults."""
        def more() -> bool:
            kind = self.settings.budget_kind
            if kind == "trials":
                return False
            spent = self.spent(study)
            mean_cost = spent[kind] / spent["trials"] if spent["trials"] else 0.0
            running = len(queue.trials(study, TrialState.RUNNING))
            if spent[kind] + running * mean_cost >= self.settings.budget:
                return False
            study.enqueue_trial(self.first_trial(strategy) if not study.trials else {})
            return True
        return more

    # ------------------------------------------------------------------ runs
    def schedule(self, batch_size: int, epochs: int) -> tuple[int, int]:
        """A run's passes over the training set and the optimiser steps between its dev evaluations, for
        ``epochs`` searched epochs: the epochs repeat until the run takes ``Preset.min_steps`` steps, and dev
        is evaluated ``evals_per_epoch`` times per searched epoch (rounded up, so the last evaluation falls
        on the last step, not one step before it)."""
        preset = self.settings.preset
        steps_per_epoch = math.ceil(len(self.data.train) / batch_size)
        passes = epochs * max(1, math.ceil(preset.min_steps / (steps_per_epoch * epochs)))
        return passes, math.ceil(steps_per_epoch * passes / (preset.evals_per_epoch * epochs))

    def base_config(self, values: dict[str, Any], seed: int) -> TrainConfig:
        """The comparison's run template with one trial's (or seed run's) values."""
        passes, eval_every = self.schedule(values["batch_size"], values.get("epochs", 1))
        return replace(
            self.settings.run, lr=values["lr"], batch_size=values["batch_size"], epochs=passes,
            warmup_ratio=values["warmup_ratio"], weight_decay=values["weight_decay"], eval_every=eval_every,
            seed=seed, output_dir=None,  # the template's output_dir is the comparison's; a trial saves nothing
        )

    @property
    def layout(self) -> ComparisonDir | None:
        """The comparison's directory (peftbench.layout), where seed runs keep their weights; None without one."""
        out = self.settings.run.output_dir
        return ComparisonDir(Path(out)) if out else None

    def seed_dir(self, strategy: str, seed: int, configuration: int | None = None) -> str | None:
        """Where a seed run's trained weights go (``ComparisonDir.seed_dir``); none without a directory."""
        return str(self.layout.seed_dir(strategy, seed, configuration)) if self.layout else None

    def undefined_score(self, value: float | None) -> str | None:
        """Why a run's dev score is no number, or None when it is one. A trial needs a number (Optuna ranks
        trials by it); one without fails with this reason instead of completing. peftbench.tasks refuses data on
        which the task's metric is undefined, so this is a guard, not a path a valid task takes."""
        if value is not None and math.isfinite(value):
            return None
        spec = self.data.spec
        why = undefined_reason(spec.metric, list(self.data.dev["label"]), spec.num_labels, spec.label_names)
        return f"dev {spec.metric} is undefined" + (f": {why}" if why else f" ({value})")

    def run_tuning_trial(self, strategy: type[Strategy], trial: optuna.Trial,
                         screen: Screen | None = None) -> float | None:
        values = space.suggest(trial, strategy, self.settings.preset.batch_sizes, self.settings.preset.epochs)
        config = self.base_config(values, seed=self.settings.data_seed)
        evaluations = 0

        def report(evaluation) -> None:
            nonlocal evaluations
            if evaluation.value is None:  # an undefined score is neither reported nor pruned on
                return
            evaluations += 1
            trial.set_user_attr("samples_seen", evaluation.samples_seen)
            if self.settings.multi_objective:  # Optuna neither records nor prunes on a multi-objective trial's steps
                return
            trial.report(evaluation.value, evaluation.samples_seen)
            if screen is not None and not evaluation.last and (
                    why := screen(strategy.name, evaluations, evaluation.samples_seen, evaluation.value)):
                raise optuna.TrialPruned(why)
            # pruning saves compute only before the end: a trial that trained to its last step is complete
            if not evaluation.last and trial.should_prune():
                raise optuna.TrialPruned(f"pruned after {evaluation.samples_seen} samples: dev "
                                         f"{evaluation.value:.4f} below {PRUNED_BELOW[self.settings.pruner]}")

        config = replace(config, output_dir=self.trial_dir(strategy.name, trial.number))
        result = train(config, strategy(values["strategy_params"]), callbacks=[report], data=self.tuning_data)
        trial.set_user_attr(TRIAL_RESULT, to_json(result))
        trial.set_user_attr("samples_seen", result.train_samples_seen)
        for measure in COSTS.values():  # what --objectives can minimise, kept for every trial
            trial.set_user_attr(measure, getattr(result, measure))
        trial.set_user_attr("learning_curve", result.learning_curve)
        return result.score("dev")

    def trials_dir(self, strategy: str) -> Path | None:
        """Where a strategy's tuning trials keep their trained weights until its seed runs are done."""
        return self.layout.trials_dir(strategy) if self.layout else None

    def trial_dir(self, strategy: str, number: int) -> str | None:
        return str(self.layout.trial_dir(strategy, number)) if self.layout else None

    def take_repeated_trial(self, strategy: str, source: FrozenTrial | None, seed: int,
                            seed_dir: str | None) -> FrozenTrial | None:
        """The tuning trial a seed run repeats exactly (its configuration, and the tuning seed, ``data_seed``),
        its weights moved to ``seed_dir``; None when its record or weights are not here (another machine's
        worker ran it, or a killed run moved them already): then the seed run trains. Training is
        deterministic, so rescoring the trial on the held-out split gives what training again would, at the
        cost of one evaluation."""
        if source is None or seed != self.settings.data_seed or TRIAL_RESULT not in source.user_attrs:
            return None
        folder = self.trial_dir(strategy, source.number)
        if not (folder and seed_dir and (Path(folder) / WEIGHTS_FILE).is_file()):
            return None
        shutil.rmtree(seed_dir, ignore_errors=True)
        Path(seed_dir).parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(folder, seed_dir)
        except FileNotFoundError:  # another worker finished this strategy's seeds and cleared the trials
            return None
        return source

    def run_seed(self, strategy: type[Strategy], trial: optuna.Trial, best_params: dict[str, Any],
                 configuration: int | None = None, source: FrozenTrial | None = None) -> float | None:
        seed = trial.suggest_int("seed", 0, MAX_TRIALS)  # a fixed slot of the study's queue; a race adds more
        values = space.from_params(best_params, strategy)
        config = replace(self.base_config(values, seed=seed),
                         output_dir=self.seed_dir(strategy.name, seed, configuration),
                         measure_inference=seed == 0)  # inference cost does not depend on the seed: timed once
        repeated = self.take_repeated_trial(strategy.name, source, seed, config.output_dir)
        if repeated is not None:  # the tuning trial with this configuration and seed: rescored, not retrained
            result = rescore(config, strategy(values["strategy_params"]),
                             parse(RunResult, repeated.user_attrs[TRIAL_RESULT], f"tuning trial {repeated.number}'s record"), self.data)
            trial.set_user_attr(REPEATED_TRIAL, repeated.number)
        else:
            result = train(config, strategy(values["strategy_params"]), data=self.data)
        result.dropped_rows = self.data.dropped_rows
        trial.set_user_attr(SEED_RESULT, to_json(result))
        trial.set_user_attr("samples_seen", result.train_samples_seen)
        return result.score("dev")

    def execute(self, study: optuna.Study, trial: optuna.Trial, objective: Callable[[optuna.Trial], float | None],
                what: str) -> None:
        """Run one claimed trial and record how it ended; a failing trial never stops the comparison."""
        started = time.perf_counter()
        with queue.heartbeat(self.storage, study, trial):
            try:
                value = objective(trial)
            except optuna.TrialPruned as pruned:
                self.finish(study, trial, TrialState.PRUNED, str(pruned))
            except TrainingDiverged as error:  # NaN/inf loss: pruned, never the best
                self.finish(study, trial, TrialState.PRUNED, f"diverged: {error}")
            except (MemoryCapExceeded, MemoryError) as error:
                self.finish(study, trial, TrialState.FAIL, f"out of memory: {error}")
            except UserError:
                raise
            except Exception as error:  # noqa: BLE001 — recorded, and the study goes on (like optimize(catch=...))
                if _is_cuda_oom(error):
                    self.finish(study, trial, TrialState.FAIL, f"out of memory: {str(error).splitlines()[0]}")
                else:
                    log.exception("trial %s of %s failed", trial.number, study.study_name)
                    self.finish(study, trial, TrialState.FAIL, f"{type(error).__name__}: {error}")
            else:
                undefined = self.undefined_score(value)
                if undefined:
                    self.finish(study, trial, TrialState.FAIL, undefined)
                    return
                self.on_trial_stored(study, study.tell(
                    trial, value if len(study.directions) == 1 else [value, *self.measured_costs(trial)]))
                self.on_run_finished(f"{what} {trial.number}: dev {value:.4f} ({time.perf_counter() - started:.0f}s)")
                return  # train() handed its memory back itself
        # a pruned or failed run's model lived on in its traceback until now: hand that memory back too
        release_freed_memory()

    def measured_costs(self, trial: optuna.Trial) -> list[float]:
        """A multi-objective trial's costs in --objectives order, as its run measured them."""
        return [float(trial.user_attrs[COSTS[name]]) for name in self.settings.costs]

    def finish(self, study: optuna.Study, trial: optuna.Trial, state: TrialState, reason: str) -> None:
        trial.set_user_attr(queue.REASON, reason[:500])
        if state == TrialState.FAIL:
            trial.set_user_attr(queue.COUNTED, True)
        self.on_trial_stored(study, study.tell(trial, state=state))
        self.on_run_finished(f"trial {trial.number} of {study.study_name} {state.name.lower()}: {reason[:200]}")

    # ------------------------------------------------------------------ the whole comparison
    def run(self, after_strategy: Callable[[], None] = lambda: None, plan: Round | None = None) -> None:
        """Tune every strategy, then re-run each best configuration with every seed: one stage per strategy's
        tuning, then one per strategy's seed runs, each opening once its tuning is over (``queue.work``).
        ``after_strategy`` is called as each strategy's seed runs finish. A race runs it once per ``round``:
        on the strategies still in it, up to that round's trials and seeds (``plan``)."""
        plan = plan or Round(self.settings.strategies)
        tuning = [(strategy, self.tuning_queue(strategy, plan.trials, plan.screen)) for strategy in plan.strategies]
        stages = [queue.Stage(lambda q=q: [q]) for _, q in tuning]
        stages += [queue.Stage(lambda strategy=strategy, q=q: self.seed_queues(strategy, q, plan),
                               finished=lambda strategy=strategy: self.seeds_finished(strategy, after_strategy))
                   for strategy, q in tuning]
        queue.work(stages, self.storage, should_stop=plan.should_stop)

    def tuning_queue(self, strategy: type[Strategy], trials: int | None = None,
                     screen: Screen | None = None) -> queue.Queue:
        study = self.tuning_study(strategy, trials)

        def run(trial: optuna.Trial) -> None:
            self.execute(study, trial, lambda t: self.run_tuning_trial(strategy, t, screen), f"{strategy.name} trial")

        return queue.Queue(study, run, refill=self.refill(study, strategy))

    def seed_queues(self, strategy: type[Strategy], tuning: queue.Queue, plan: Round) -> list[queue.Queue] | None:
        """The seed runs of a strategy's chosen configuration (or, multi-objective, of several on its front),
        once its tuning is over; none when no tuning trial completed."""
        if not tuning.finished():
            return None
        if not queue.trials(tuning.study, TrialState.COMPLETE):
            log.warning("strategy %s: no tuning trial completed, so no seed runs", strategy.name)
            return []
        if not self.settings.multi_objective:
            best = tuning.study.best_trial
            return [self.configuration_seeds(strategy, best, best.number if plan.by_configuration else None,
                                             plan.seeds)]
        return [self.configuration_seeds(strategy, trial, trial.number) for trial in seeded_configurations(tuning.study)]

    def seeds_finished(self, strategy: type[Strategy], after_strategy: Callable[[], None]) -> None:
        trials = self.trials_dir(strategy.name)
        if trials:  # tuning trials' weights were kept only for the seed runs that repeat them
            shutil.rmtree(trials, ignore_errors=True)
        after_strategy()

    def configuration_seeds(self, strategy: type[Strategy], source: FrozenTrial,
                            configuration: int | None = None, seeds: int | None = None) -> queue.Queue:
        """The seed runs of one configuration, that of tuning trial ``source`` (``configuration``: its number,
        when several configurations are re-run). A worker that joins later re-runs the configuration the
        study's creator chose, and reuses a tuning trial only if it is that configuration."""
        seeds = self.seeds_study(strategy, dict(source.params), configuration, seeds)
        chosen = seeds.user_attrs["params"]
        repeatable = source if dict(source.params) == chosen else None

        def run(trial: optuna.Trial) -> None:
            self.execute(seeds, trial, lambda t: self.run_seed(strategy, t, chosen, configuration, repeatable),
                         f"{strategy.name} seed run")

        return queue.Queue(seeds, run)

    def study_names(self, strategy: str) -> list[str]:
        """The names of a strategy's studies already in the storage: its tuning study, then its seed runs'."""
        stored = sorted(optuna.get_all_study_names(storage=self.storage))
        tuning, seeds = study_name(self.settings, strategy), seeds_study_name(self.settings, strategy)
        return [tuning] * (tuning in stored) + [name for name in stored
                                                 if name == seeds or name.startswith(seeds + "-trial-")]

    def existing_studies(self) -> list[optuna.Study]:
        """This comparison's studies already in the storage (tuning and seeds)."""
        return [optuna.load_study(study_name=name, storage=self.storage)
                for strategy in self.settings.names for name in self.study_names(strategy)]

    def spent_by(self, strategy: str) -> dict[str, float]:
        """What every run of a strategy took so far (``spent``), its tuning trials and all its seed runs."""
        totals = {"trials": 0.0, "samples": 0.0, "seconds": 0.0}
        for name in self.study_names(strategy):
            for key, value in self.spent(optuna.load_study(study_name=name, storage=self.storage)).items():
                totals[key] += value
        return totals

    def finished_runs(self) -> int:
        return sum(len(queue.counted_trials(study)) for study in self.existing_studies())

    def requeue_all_running(self) -> int:
        """At start-up under the output directory's lock (local storage): trials left RUNNING by a
        killed process are failed and their slots queued again."""
        return sum(queue.requeue_running(study, self.storage) for study in self.existing_studies())


def wait_until_ready(study: optuna.Study, timeout: float = 120.0) -> None:
    """Wait for the worker that created ``study`` to finish filling its queue (bounded: a creator
    that died meanwhile must not hang everyone; the caller then tops the queue up itself)."""
    deadline = time.monotonic() + timeout
    while not study.user_attrs.get(READY) and time.monotonic() < deadline:
        time.sleep(0.5)


def _is_cuda_oom(error: Exception) -> bool:
    import torch

    return isinstance(error, torch.OutOfMemoryError) or "CUDA out of memory" in str(error)


def front_trials(study: optuna.Study) -> list[FrozenTrial]:
    """A multi-objective tuning study's Pareto set (``peftbench.pareto`` over its complete trials), best dev score
    first, then cheapest on the costs in order, then earliest."""
    complete = queue.trials(study, TrialState.COMPLETE)
    maximise = [direction == StudyDirection.MAXIMIZE for direction in study.directions]
    front = [complete[i] for i in front_indices([t.values for t in complete], maximise)]
    return sorted(front, key=lambda t: (-t.values[0], *t.values[1:], t.number))


def seeded_configurations(study: optuna.Study) -> list[FrozenTrial]:
    """The front's members that get seed runs: all of them up to FRONT_SEED_CONFIGS, else that many spread
    evenly along the front from the best-scoring to the cheapest (``peftbench.pareto.spread``)."""
    front = front_trials(study)
    return [front[i] for i in spread(len(front), FRONT_SEED_CONFIGS)]


def seed_results(study: optuna.Study) -> list[RunResult]:
    return [parse(RunResult, t.user_attrs[SEED_RESULT], f"{study.study_name} trial {t.number}") for t in queue.trials(study, TrialState.COMPLETE)
            if SEED_RESULT in t.user_attrs]


def repeated_trials(study: optuna.Study) -> dict[int, int]:
    """Seed → the tuning trial that seed run is (rescored, not retrained), for the seed runs that are one."""
    return {t.params["seed"]: t.user_attrs[REPEATED_TRIAL] for t in queue.trials(study, TrialState.COMPLETE)
            if REPEATED_TRIAL in t.user_attrs}
