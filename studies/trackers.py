"""Experiment trackers: ``runners.compare --log-to tensorboard,mlflow`` logs every tuning trial and seed run
of a comparison — its hyperparameters, learning curve (dev score by training samples seen), final scores,
costs, and strategy, kind and Optuna trial number as tags — through the libraries' own APIs
(``torch.utils.tensorboard.SummaryWriter``, ``mlflow.MlflowClient``).

A run is logged from what the Optuna storage holds about it, the record ``results.json`` is built from: the
moment it is stored (:meth:`Tracking.log_trial`, ``Comparison``'s hook, in whichever worker ran it) and, at
the end of a comparison on local storage, every finished run a tracker does not have yet (:meth:`Tracking.sync`).
So adding ``--log-to`` to a finished comparison logs its runs without training again, a run whose logging
was cut short (a kill, a tracker error) is logged on the next resume, and no run is logged twice.

Optuna-integration's ``MLflowCallback`` and ``TensorBoardCallback`` do not fit: they are ``study.optimize``
callbacks that log a trial's parameters and final value only (the TensorBoard one through TensorFlow), not
learning curves, costs or seed runs, and cannot tell a resumed run from a new one.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Protocol

import optuna
from optuna.trial import FrozenTrial

from peftbench.layout import ComparisonDir, run_name
from peftbench.records import RunResult
from peftbench.schema import parse
from peftbench.errors import UserError
from peftbench.strategy import Strategy
from studies import queue
from studies.compare import SEED_RESULT, ComparisonSettings, seeds_study_name, study_name

log = logging.getLogger("peftbench.trackers")
TRACKERS = ("tensorboard", "mlflow")
INSTALL = "pip install -e '.[trackers]' (make setup installs it)"
TUNING, SEED_RUN = "tuning trial", "seed run"
KEY_TAG = "peftbench.run_key"
MLFLOW_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}  # Optuna state → MLflow run status
SPLIT_LABELS = {"dev": "dev", "test": "heldout"}  # results.json's split keys → the names trackers show
TUNING_COSTS = ("train_seconds", "peak_memory_bytes", "trainable_params")  # user attributes of a tuning trial
EVENTS = "events.out.tfevents.*"  # a TensorBoard event file


@dataclass
class TrackedRun:
    """One finished tuning trial or seed run, as every tracker logs it."""

    key: str  # the Optuna trial, across resumes and comparisons: study, trial number and start time
    path: str  # "<strategy>/trial-<n>" or "<strategy>/seed-<n>": a TensorBoard run, an MLflow run name
    state: str  # Optuna's: COMPLETE, PRUNED or FAIL
    params: dict[str, Any]
    tags: dict[str, str]
    curve_name: str  # "curve/dev_<metric>"
    curve: list[tuple[int, float]]  # (training samples seen, dev score) at each evaluation
    metrics: dict[str, float]  # "final/dev_<metric>", "final/heldout_<metric>", "cost/<measure>"
    started: datetime | None
    completed: datetime | None


class Tracker(Protocol):
    name: str  # as --log-to names it

    def log(self, run: TrackedRun) -> None:
        """Log one run (a run with the same path or key left by an earlier attempt is replaced)."""

    def logged(self, keys: set[str]) -> set[str]:
        """Which of ``keys`` this tracker holds completely; a partial run of one of them (cut short by a
        kill) is removed, so it is logged again."""


def check(names: tuple[str, ...], mlflow_uri: str | None) -> None:
    """Before anything is written: each tracker's library imports, and a given MLflow server answers."""
    if mlflow_uri and "mlflow" not in names:
        raise UserError("--mlflow-uri needs --log-to mlflow")
    if "tensorboard" in names:
        try:
            from torch.utils.tensorboard import SummaryWriter  # noqa: F401
        except ImportError:
            raise UserError(f"--log-to tensorboard needs the tensorboard package: {INSTALL}") from None
    if "mlflow" in names:
        try:
            import mlflow  # noqa: F401
        except ImportError:
            raise UserError(f"--log-to mlflow needs the mlflow package: {INSTALL}") from None
        if mlflow_uri:
            quiet_mlflow()
            with one_attempt():
                try:
                    mlflow.MlflowClient(tracking_uri=mlflow_uri).search_experiments(max_results=1)
                except Exception as error:  # noqa: BLE001 — connection, HTTP and store errors all mean "cannot log there"
                    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
                    raise UserError(f"cannot reach --mlflow-uri {mlflow_uri}: {first[:300]}") from None


@contextmanager
def one_attempt(timeout_seconds: int = 10) -> Iterator[None]:
    """MLflow retries an unreachable server for minutes by default; the check tries once, briefly."""
    saved = {name: os.environ.get(name) for name in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")}
    os.environ.update(MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", MLFLOW_HTTP_REQUEST_TIMEOUT=str(timeout_seconds))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def quiet_mlflow() -> None:
    """MLflow (and the alembic migrations of a new local store) log INFO lines to stderr; keep stderr the progress."""
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def default_mlflow_uri(out: Path) -> str:
    """A SQLite store in ``<out>/mlruns/``: MLflow 3's local default is a database, its ``mlruns/`` file store
    being in maintenance mode (refused unless ``MLFLOW_ALLOW_FILE_STORE`` is set)."""
    return f"sqlite:///{(ComparisonDir(out).mlruns / 'mlflow.db').resolve()}"


def experiment_name(settings: ComparisonSettings) -> str:
    return run_name(settings.task, settings.model, settings.preset.name)


class Tracking:
    """The trackers one process of a comparison logs to, and which of the comparison's studies is which."""

    def __init__(self, trackers: list[Tracker], settings: ComparisonSettings, metric: str):
        self.trackers = trackers
        self.settings = settings
        self.metric = metric
        self.failed: list[str] = []  # trackers that raised: they log nothing more in this process

    @classmethod
    def open(cls, names: tuple[str, ...], out: Path, mlflow_uri: str | None, settings: ComparisonSettings,
             metric: str) -> "Tracking":
        """The trackers ``names`` (already :func:`check`-ed): TensorBoard event files under ``<out>/tensorboard/``,
        MLflow runs at ``mlflow_uri`` (default: :func:`default_mlflow_uri`) in the experiment
        ``<task>-<model>-<preset>``, which comparisons of the same thing share on a server."""
        trackers: list[Tracker] = []
        layout = ComparisonDir(out)
        if "tensorboard" in names:
            trackers.append(TensorBoardTracker(layout.tensorboard))
        if "mlflow" in names:
            local = mlflow_uri is None
            if local:
                layout.mlruns.mkdir(parents=True, exist_ok=True)
            trackers.append(MlflowTracker(mlflow_uri or default_mlflow_uri(out), experiment_name(settings),
                                          (layout.mlruns / "artifacts").resolve().as_uri() if local else None))
        return cls(trackers, settings, metric)

    def working(self) -> list[Tracker]:
        return [tracker for tracker in self.trackers if tracker.name not in self.failed]

    def give_up(self, tracker: Tracker, what: str) -> None:
        """A tracker's error never stops the comparison, and is not met again on every run (an MLflow server
        that went away costs minutes of retries per call): the tracker rests until the next resume, whose
        :meth:`sync` logs what it missed."""
        log.exception("%s could not %s; it logs nothing more until the comparison is resumed", tracker.name, what)
        self.failed.append(tracker.name)

    def log_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """``Comparison``'s hook: a run has just been stored."""
        trackers = self.working()
        if not trackers:
            return
        run = self.describe(study.study_name, trial)
        for tracker in trackers:
            try:
                tracker.log(run)
            except Exception:  # noqa: BLE001 — any library or connection error: see give_up
                self.give_up(tracker, f"log {run.path}")

    def sync(self, studies: list[optuna.Study]) -> int:
        """Log every finished run of ``studies`` that a tracker does not hold yet; returns how many runs some
        tracker lacked. Only where no other process logs this comparison's runs (local storage, under its lock)."""
        runs = [self.describe(study.study_name, trial) for study in studies for trial in queue.counted_trials(study)]
        added: set[str] = set()
        for tracker in self.working():
            try:
                have = tracker.logged({run.key for run in runs})
                for run in runs:
                    if run.key not in have:
                        tracker.log(run)
                        added.add(run.key)
            except Exception:  # noqa: BLE001 — any library or connection error: see give_up
                self.give_up(tracker, "log the runs it lacked")
        return len(added)

    # ------------------------------------------------------------------ what a run is
    def strategy_of(self, name: str) -> tuple[type[Strategy], str, str]:
        """The strategy, kind and sub-folder of a study: ``<tuning>``, ``<tuning>-seeds`` or, for one of a
        multi-objective front's configurations, ``<tuning>-seeds-trial-<n>`` (seed runs under ``trial-<n>/``)."""
        for strategy in self.settings.strategies:
            if name == study_name(self.settings, strategy.name):
                return strategy, TUNING, ""
            seeds = seeds_study_name(self.settings, strategy.name)
            if name == seeds or name.startswith(seeds + "-"):
                return strategy, SEED_RUN, name[len(seeds) + 1:]
        raise ValueError(f"study {name} is not one of this comparison's")

    def describe(self, name: str, trial: FrozenTrial) -> TrackedRun:
        strategy, kind, folder = self.strategy_of(name)
        record = parse(RunResult, trial.user_attrs[SEED_RESULT], f"seed run {trial.number}") \
            if SEED_RESULT in trial.user_attrs else None
        seed = trial.params.get("seed") if kind == SEED_RUN else self.settings.data_seed
        tags = {"strategy": strategy.name, "family": strategy.info().family, "kind": kind, "seed": str(seed),
                "task": self.settings.task, "model": self.settings.model, "preset": self.settings.preset.name,
                "optuna.study": name, "optuna.trial_number": str(trial.number), "optuna.state": trial.state.name}
        if trial.user_attrs.get(queue.REASON):
            tags["optuna.reason"] = str(trial.user_attrs[queue.REASON])[:500]
        metrics: dict[str, float] = {}
        if trial.duration is not None:
            metrics["cost/duration_seconds"] = trial.duration.total_seconds()
        if record is not None:  # a seed run: its RunResult
            params = dict(record.hyperparameters)
            curve = points(record.learning_curve)
            for split, scores in record.metrics.items():
                metrics.update({f"final/{SPLIT_LABELS.get(split, split)}_{metric}": value
                                for metric, value in scores.items()})
            metrics.update({f"cost/{measure}": getattr(record, measure) for measure in
                            (*TUNING_COSTS, "train_samples_per_second")})
        else:  # a tuning trial (or a seed run that failed): Optuna's params, steps and user attributes
            params = dict(trial.params)  # a pruned trial has no stored curve, only the steps Optuna recorded
            curve = points(trial.user_attrs["learning_curve"]) if "learning_curve" in trial.user_attrs else \
                sorted((int(step), value) for step, value in trial.intermediate_values.items())
            if trial.values:
                metrics[f"final/dev_{self.metric}"] = trial.values[0]
            metrics.update({f"cost/{measure}": trial.user_attrs[measure] for measure in TUNING_COSTS
                            if measure in trial.user_attrs})
            if "train_seconds" in trial.user_attrs and trial.user_attrs.get("samples_seen"):
                metrics["cost/train_samples_per_second"] = (trial.user_attrs["samples_seen"]
                                                            / max(trial.user_attrs["train_seconds"], 1e-9))
        leaf = f"seed-{seed}" if kind == SEED_RUN else f"trial-{trial.number}"
        started = trial.datetime_start.isoformat() if trial.datetime_start else ""
        return TrackedRun(
            key=f"{name}#{trial.number}@{started}", path="/".join(p for p in (strategy.name, folder, leaf) if p),
            state=trial.state.name, params=params, tags=tags, curve_name=f"curve/dev_{self.metric}",
            curve=[(step, float(value)) for step, value in curve if finite(value)],
            metrics={k: float(v) for k, v in metrics.items() if finite(v)},
            started=trial.datetime_start, completed=trial.datetime_complete)


def points(learning_curve: list[dict[str, Any]]) -> list[tuple[int, float]]:
    """A stored learning curve (``peftbench.train``) as (training samples seen, dev score) pairs."""
    return [(int(point["samples"]), point["value"]) for point in learning_curve]


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def plain(value: Any) -> bool | int | float | str:
    """A hyperparameter as both trackers take it: numbers, booleans and strings as they are, anything else
    (a tuple of target modules) as text."""
    return value if isinstance(value, (bool, int, float, str)) else str(value)


class TensorBoardTracker:
    """One TensorBoard run per trial or seed run: ``<root>/<strategy>/trial-<n>/`` and ``…/seed-<n>/`` (the seed
    runs of one of a multi-objective front's configurations in ``…/trial-<n>/seed-<m>/``, as their models), with
    scalars ``curve/…`` (step: training samples seen), ``final/…`` and ``cost/…``, and the hyperparameters and
    tags in the HPARAMS tab. A run's one event file is written in a hidden folder and moved into place when
    complete, replacing the run's earlier event file (never a folder: a nested run stays)."""

    name = "tensorboard"

    def __init__(self, root: Path):
        self.root = root

    def log(self, run: TrackedRun) -> None:
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        final = self.root / run.path
        partial = final.with_name(f".{final.name}.{os.getpid()}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        last = run.curve[-1][0] if run.curve else 0
        with SummaryWriter(log_dir=str(partial)) as writer:
            for step, value in run.curve:
                writer.add_scalar(run.curve_name, value, step)
            for name, value in run.metrics.items():
                writer.add_scalar(name, value, last)
            values = {**{k: plain(v) for k, v in run.params.items()}, **{f"tag/{k}": v for k, v in run.tags.items()},
                      f"tag/{KEY_TAG}": run.key}
            for summary in hparams(values, {k: v for k, v in run.metrics.items() if k.startswith("final/")}):
                writer.file_writer.add_summary(summary)
        final.mkdir(parents=True, exist_ok=True)
        for old in final.glob(EVENTS):
            old.unlink()
        for new in partial.glob(EVENTS):
            os.replace(new, final / new.name)
        shutil.rmtree(partial)

    def logged(self, keys: set[str]) -> set[str]:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
        from tensorboard.plugins.hparams import plugin_data_pb2

        found = set()
        for folder in list(self.root.glob("**/")) if self.root.is_dir() else []:
            if folder.name.endswith(".partial"):
                shutil.rmtree(folder, ignore_errors=True)
                continue
            if not any(folder.glob(EVENTS)):
                continue
            accumulator = EventAccumulator(str(folder))
            accumulator.Reload()
            content = accumulator.PluginTagToContent("hparams").get("_hparams_/session_start_info")
            if content is not None:
                start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
                found.add(start.hparams[f"tag/{KEY_TAG}"].string_value)
        return found & keys


class MlflowTracker:
    """One MLflow run per trial or seed run in one experiment per comparison: parameters, tags (``kind``,
    ``strategy``, ``optuna.trial_number``, …), the metric history ``curve/…`` (step: training samples seen),
    ``final/…`` and ``cost/…``; the run's status is FINISHED, KILLED (pruned) or FAILED, as Optuna's state."""

    name = "mlflow"

    def __init__(self, uri: str, experiment: str, artifact_location: str | None):
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        quiet_mlflow()
        self.client = MlflowClient(tracking_uri=uri)
        found = self.client.get_experiment_by_name(experiment)
        if found is None:
            try:
                self.experiment_id = self.client.create_experiment(experiment, artifact_location=artifact_location)
            except MlflowException:  # another worker created it first
                self.experiment_id = self.client.get_experiment_by_name(experiment).experiment_id
        else:
            self.experiment_id = found.experiment_id

    def log(self, run: TrackedRun) -> None:
        from mlflow.entities import Metric, Param

        completed = millis(run.completed)
        created = self.client.create_run(self.experiment_id, start_time=millis(run.started), run_name=run.path,
                                         tags={**run.tags, KEY_TAG: run.key})
        run_id = created.info.run_id
        last = run.curve[-1][0] if run.curve else 0
        metrics = [Metric(run.curve_name, value, completed, step) for step, value in run.curve]
        metrics += [Metric(name, value, completed, last) for name, value in run.metrics.items()]
        params = [Param(name, str(plain(value))) for name, value in run.params.items()]
        self.client.log_batch(run_id, metrics=metrics, params=params)
        self.client.set_terminated(run_id, status=MLFLOW_STATUS.get(run.state, "FAILED"), end_time=completed)

    def logged(self, keys: set[str]) -> set[str]:
        found, token = set(), None
        while True:
            page = self.client.search_runs([self.experiment_id], max_results=10_000, page_token=token)
            for run in page:
                key = run.data.tags.get(KEY_TAG)
                if key not in keys:  # another comparison's run in a shared experiment: not ours to judge
                    continue
                if run.info.status == "RUNNING":  # cut short by a kill: logged again from the start
                    self.client.delete_run(run.info.run_id)
                else:
                    found.add(key)
            token = page.token
            if not token:
                return found


def millis(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1000) if moment is not None else None
