"""Read and validate a comparison's ``results.json`` (docs/results-schema.md) into typed records.

Every problem with the file — missing, truncated, another schema version, not a comparison, a field of
the wrong type — becomes one :class:`UserError` line naming the file, so the report commands never show
a traceback for bad input. The records are our own small dataclasses rather than
``core.config.RunResult``, which would import torch and the data stack just to read a JSON file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.pareto import COSTS
from core.strategy import FAMILIES, StrategyInfo

SCHEMA_VERSION = 2  # 2: every strategy carries its declared StrategyInfo ("info")
KIND = "peftbench-comparison"
RESULTS_FILE = "results.json"
SPLIT_NAMES = {"test": "held-out", "dev": "dev"}  # how every number's split is labelled in reports


@dataclass(frozen=True)
class Deployed:
    """One form of a trained model at inference (``core.config.DeployedCost``)."""

    latency_ms: float  # per example at batch 1
    throughput: float  # examples per second at the measurement's batch size
    memory_bytes: int  # parameters and buffers in memory


@dataclass(frozen=True)
class Inference:
    """What a seed run's trained model costs to run, as trained and merged (``core.config.InferenceCost``)."""

    as_trained: Deployed
    merged: Deployed | None  # peft's merge_and_unload; None: merge_note says why not
    merge_note: str | None
    max_logit_difference: float | None  # merged vs as trained
    predictions_equal: bool | None  # within the tolerance
    tolerance: float
    examples: int
    batch_size: int
    passes: int
    threads: int
    mean_tokens: float
    seconds: float

    def forms(self) -> list[Deployed]:
        """The forms that give the trained model's predictions: as trained, and merged where merging kept them."""
        return [self.as_trained] + ([self.merged] if self.merged is not None and self.predictions_equal else [])


@dataclass(frozen=True)
class SeedRun:
    """One seed re-run of a strategy's best configuration (the fields the reports use)."""

    seed: int
    metrics: dict[str, dict[str, float]]  # split → metric → value
    trainable_params: int
    total_params: int
    peak_memory_bytes: int
    memory_kind: str
    train_seconds: float
    train_samples_per_second: float
    artifact_bytes: int
    device: str
    inference: Inference | None = None  # measured on one seed run per strategy (seed 0); None before peftbench did
    steps: int = 0  # optimiser steps it took
    hyperparameters: dict[str, Any] = field(default_factory=dict)  # as trained: "epochs" counts passes over train


@dataclass(frozen=True)
class Trial:
    number: int
    state: str  # COMPLETE | PRUNED | FAIL
    params: dict[str, Any]
    value: float | None
    duration_seconds: float | None
    samples_seen: int
    intermediate: list[tuple[float, float]]  # (samples seen, dev metric)
    reason: str | None
    retry_of: int | None = None  # the number of the killed trial whose slot and parameters this one re-ran
    values: dict[str, float] | None = None  # multi-objective: each objective's value (the metric first)


@dataclass(frozen=True)
class FrontConfig:
    """A configuration on a strategy's Pareto set (multi-objective comparisons, ``--objectives``)."""

    trial: int  # the tuning trial that found it
    values: dict[str, float]  # objective → value on dev: the metric (maximised), then the costs (minimised)
    params: dict[str, Any]  # every searched value
    strategy_params: dict[str, Any]  # the strategy's own hyperparameters among them
    seed_runs: list["SeedRun"]  # empty unless it is one of the configurations re-run with seeds


@dataclass(frozen=True)
class Failure:
    """Why a strategy has no result, or fewer seed runs than asked for: the first failed run's error."""

    message: str  # the first line of its reason (exception type and message)
    log: str  # the log holding the traceback, relative to the comparison directory


@dataclass(frozen=True)
class StrategyResult:
    name: str
    info: StrategyInfo  # what the strategy declares of itself: family, label, reference, ...
    status: str  # done | running | partial | failed | pending
    trials: list[Trial]
    spent: dict[str, float]
    best_trial: int | None
    best_params: dict[str, Any]
    param_importance: dict[str, float] | None
    seed_runs: list[SeedRun]
    front: list[FrontConfig] = field(default_factory=list)  # multi-objective: its Pareto set, best score first
    error: Failure | None = None  # status partial or failed: what went wrong, and where to read more

    @property
    def best(self) -> Trial | None:
        return next((t for t in self.trials if t.number == self.best_trial), None)

    def scores(self, split: str, metric: str) -> dict[int, float]:
        """Seed → score on ``split``, for the seed runs that have it."""
        return {r.seed: r.metrics[split][metric] for r in self.seed_runs if metric in r.metrics.get(split, {})}

    @property
    def inference(self) -> Inference | None:
        """The inference cost of its trained model (measured once, on the lowest seed that has it)."""
        return next((r.inference for r in sorted(self.seed_runs, key=lambda r: r.seed) if r.inference), None)


@dataclass(frozen=True)
class Task:
    name: str
    metric: str
    sizes: dict[str, int]
    full_train_size: int | None
    heldout: str
    notes: list[str]
    source: str
    protocol: str = ""  # dev-from-train | heldout-from-train | test-file | "" (see core.tasks.PROTOCOLS)


@dataclass(frozen=True)
class Results:
    """One comparison: a task, a model, and every strategy's trials and seed runs."""

    directory: Path
    task: Task
    model: str
    total_params: int | None
    preset: str
    settings: dict[str, Any]
    budget_kind: str
    budget: float
    environment: dict[str, Any]
    parallel: bool
    complete: bool
    updated: str
    strategies: dict[str, StrategyResult]
    costs: list[str] = field(default_factory=list)  # the objectives minimised beside the metric (--objectives)

    @property
    def objectives(self) -> list[str]:
        return [self.task.metric, *self.costs]

    @property
    def model_short(self) -> str:
        return self.model.rstrip("/").split("/")[-1]

    @property
    def split(self) -> str:
        """The split results are ranked on: held-out unless some seed run lacks it, then dev."""
        runs = [r for s in self.strategies.values() for r in s.seed_runs]
        return "test" if all(self.task.metric in r.metrics.get("test", {}) for r in runs) else "dev"

    @property
    def device(self) -> str:
        devices = sorted({r.device for s in self.strategies.values() for r in s.seed_runs})
        return ", ".join(devices) or str(self.environment.get("device", "unknown device"))

    @property
    def seeds(self) -> int:
        return max((len(s.seed_runs) for s in self.strategies.values()), default=0)


class _Reader:
    """Typed access to one JSON object; every failure names the file and the field."""

    def __init__(self, file: Path, data: Any, where: str):
        if not isinstance(data, dict):
            raise UserError(f"{file}: {where or 'the top level'} must be a JSON object, found {_type(data)}")
        self.file, self.data, self.where = file, data, where

    def _fail(self, key: str, expected: str, found: Any) -> UserError:
        return UserError(f"{self.file}: {self._name(key)} must be {expected}, found {_type(found)}")

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def raw(self, key: str, optional: bool = False) -> Any:
        if key not in self.data:
            if optional:
                return None
            raise UserError(f"{self.file}: {self._name(key)} is missing; the file is not a complete results.json")
        return self.data[key]

    def child(self, key: str) -> "_Reader":
        return _Reader(self.file, self.raw(key), self._name(key))

    def text(self, key: str, optional: bool = False) -> str | None:
        value = self.raw(key, optional)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self._fail(key, "a string", value)
        return value

    def number(self, key: str, optional: bool = False) -> float | None:
        value = self.raw(key, optional)
        if value is None and optional:
            return None
        if not _is_number(value):
            raise self._fail(key, "a finite number", value)
        return float(value)

    def integer(self, key: str, optional: bool = False) -> int | None:
        value = self.number(key, optional)
        if value is not None and value != int(value):
            raise self._fail(key, "an integer", self.data[key])
        return None if value is None else int(value)

    def mapping(self, key: str, optional: bool = False) -> dict[str, Any] | None:
        value = self.raw(key, optional)
        if value is None and optional:
            return None
        if not isinstance(value, dict):
            raise self._fail(key, "a JSON object", value)
        return value

    def sequence(self, key: str) -> list[Any]:
        value = self.raw(key)
        if not isinstance(value, list):
            raise self._fail(key, "a JSON array", value)
        return value

    def numbers(self, key: str, optional: bool = False, nullable: bool = False) -> dict[str, float] | None:
        """A mapping of finite numbers; ``nullable``: null values (an undefined metric) are left out."""
        value = self.mapping(key, optional)
        if value is None:
            return None
        value = {name: number for name, number in value.items() if not (nullable and number is None)}
        for name, number in value.items():
            if not _is_number(number):
                raise UserError(f"{self.file}: {self._name(key)}.{name} must be a finite number, found {_type(number)}")
        return {name: float(number) for name, number in value.items()}


def _strip_prefix(text: str, prefix: str) -> str:
    """studies.results writes the held-out note with a label the report prints itself."""
    return text[len(prefix):].strip() if text.lower().startswith(prefix) else text


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _type(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), type(value).__name__)


def results_path(directory: Path) -> Path:
    """The results.json of a comparison directory (a path to the file itself is accepted too)."""
    directory = Path(directory)
    if directory.is_file() and directory.name == RESULTS_FILE:
        return directory
    if not directory.exists():
        raise UserError(f"{directory} does not exist; pass a comparison directory written by runners.compare")
    if not directory.is_dir():
        raise UserError(f"{directory} is not a directory; pass a comparison directory written by runners.compare")
    path = directory / RESULTS_FILE
    if not path.is_file():
        raise UserError(f"{directory} has no {RESULTS_FILE}; run python -m runners.compare with --out {directory} "
                        "first")
    return path


def read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UserError(f"{path}: cannot read the file ({error.strerror or type(error).__name__})") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text; it is corrupt — re-run python -m runners.compare to rewrite "
                        "it") from None
    if not text.strip():
        raise UserError(f"{path} is empty; re-run python -m runners.compare to rewrite it")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(f"{path} is not valid JSON ({error.msg} at line {error.lineno} column {error.colno}); "
                        f"it is truncated or corrupt — re-run python -m runners.compare to rewrite it") from None
    except (ValueError, RecursionError) as error:
        raise UserError(f"{path} is not valid JSON ({type(error).__name__}); re-run python -m runners.compare "
                        "to rewrite it") from None


def load_results(directory: Path | str) -> Results:
    """Load and validate one comparison; raises :class:`UserError` with one clear line on any problem."""
    path = results_path(Path(directory))
    data = read_json(path)
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind != KIND:
        found = f"kind {kind!r}" if isinstance(data, dict) else f"{_type(data)}, not an object"
        raise UserError(f"{path} is not a peftbench comparison ({found}; expected kind {KIND!r})")
    top = _Reader(path, data, "")
    version = top.raw("schema_version", optional=True)
    if not _is_number(version) or version != int(version):
        raise UserError(f"{path}: schema_version must be an integer, found {_type(version)}")
    if version < SCHEMA_VERSION:
        raise UserError(f"{path} has schema version {int(version)}, older than the version {SCHEMA_VERSION} this "
                        f"peftbench reads; re-run python -m runners.compare to rewrite it")
    if version > SCHEMA_VERSION:
        raise UserError(f"{path} has schema version {int(version)}, written by a newer peftbench (this one reads "
                        f"version {SCHEMA_VERSION}); upgrade peftbench to read it")
    task, model, budget = top.child("task"), top.child("model"), top.child("budget")
    strategies = top.child("strategies")
    metric = task.text("metric")
    settings = top.mapping("settings", optional=True) or {}
    return Results(
        directory=path.parent,
        task=Task(name=task.text("name"), metric=metric,
                  sizes={k: int(v) for k, v in task.numbers("sizes").items()},
                  full_train_size=task.integer("full_train_size", optional=True),
                  heldout=_strip_prefix(task.text("heldout", optional=True) or "", "held-out split:"),
                  notes=[str(n) for n in task.raw("notes", optional=True) or []],
                  source=task.text("source", optional=True) or "",
                  protocol=task.text("protocol", optional=True) or ""),
        model=model.text("name"),
        total_params=model.integer("total_params", optional=True),
        preset=top.text("preset", optional=True) or "custom",
        settings=settings,
        budget_kind=budget.text("kind"),
        budget=budget.number("per_strategy"),
        environment=top.mapping("environment", optional=True) or {},
        parallel=bool(top.raw("parallel", optional=True)),
        complete=bool(top.raw("complete", optional=True)),
        updated=top.text("updated", optional=True) or "",
        strategies={name: _strategy(strategies.child(name), name, metric) for name in strategies.data},
        costs=_costs(path, settings),
    )


def _costs(path: Path, settings: dict[str, Any]) -> list[str]:
    costs = settings.get("cost_objectives") or []
    if not (isinstance(costs, list) and all(name in COSTS for name in costs)):
        raise UserError(f"{path}: settings.cost_objectives must be a list of {', '.join(COSTS)}, found {costs!r}")
    return costs


def _strategy(record: _Reader, name: str, metric: str) -> StrategyResult:
    best = record.raw("best", optional=True)
    best_reader = _Reader(record.file, best, record._name("best")) if best is not None else None
    return StrategyResult(
        name=name,
        info=_info(record.child("info"), name),
        status=record.text("status"),
        trials=[_trial(_Reader(record.file, t, f"{record._name('trials')}[{i}]"))
                for i, t in enumerate(record.sequence("trials"))],
        spent=record.numbers("spent", optional=True) or {},
        best_trial=best_reader.integer("trial") if best_reader else None,
        best_params=best_reader.mapping("params") if best_reader else {},
        param_importance=record.numbers("param_importance", optional=True),
        seed_runs=_seed_runs(record, metric),
        front=[_front_config(_Reader(record.file, f, f"{record._name('front')}[{i}]"), metric)
               for i, f in enumerate(record.sequence("front") if record.raw("front", optional=True) else [])],
        error=_failure(record.child("error")) if record.raw("error", optional=True) is not None else None,
    )


def _failure(record: _Reader) -> Failure:
    return Failure(message=record.text("message"), log=record.text("log"))


def _seed_runs(record: _Reader, metric: str) -> list[SeedRun]:
    return [_seed_run(_Reader(record.file, r, f"{record._name('seed_runs')}[{i}]"), metric)
            for i, r in enumerate(record.sequence("seed_runs"))]


def _front_config(record: _Reader, metric: str) -> FrontConfig:
    values = record.numbers("values")
    if metric not in values:
        raise UserError(f"{record.file}: {record._name('values')} has no {metric!r}, the task's metric")
    return FrontConfig(trial=record.integer("trial"), values=values, params=record.mapping("params"),
                       strategy_params=record.mapping("strategy_params"), seed_runs=_seed_runs(record, metric))


def _info(record: _Reader, name: str) -> StrategyInfo:
    family = record.text("family")
    if family not in FAMILIES:
        raise UserError(f"{record.file}: {record._name('family')} must be one of {', '.join(FAMILIES)}, found {family!r}")
    flags = {key: record.raw(key) for key in ("encoder_frozen", "step_hook", "own_optimizer", "reference")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise record._fail(key, "true or false", value)
    return StrategyInfo(name=name, label=record.text("label"), family=family, summary=record.text("summary"), **flags)


def _trial(record: _Reader) -> Trial:
    points = []
    for point in record.raw("intermediate", optional=True) or []:
        if not (isinstance(point, list) and len(point) == 2 and all(_is_number(x) for x in point)):
            raise UserError(f"{record.file}: {record._name('intermediate')} must hold [samples, value] pairs")
        points.append((float(point[0]), float(point[1])))
    return Trial(
        number=record.integer("number"), state=record.text("state"), params=record.mapping("params"),
        value=record.number("value", optional=True), duration_seconds=record.number("duration_seconds", optional=True),
        samples_seen=record.integer("samples_seen", optional=True) or 0, intermediate=sorted(points),
        reason=record.text("reason", optional=True), retry_of=record.integer("retry_of", optional=True),
        values=record.numbers("values", optional=True),
    )


def _seed_run(record: _Reader, metric: str) -> SeedRun:
    metrics = record.child("metrics")
    # a metric undefined on a split (core.metrics) is null: left out, so it is never a score or a rank
    splits = {split: metrics.numbers(split, nullable=True) for split in metrics.data}
    if metric not in splits.get("dev", {}):
        raise UserError(f"{record.file}: {record._name('metrics')}.dev has no {metric!r}, the task's metric "
                        "(or it is null)")
    return SeedRun(
        seed=record.integer("seed"), metrics=splits, trainable_params=record.integer("trainable_params"),
        total_params=record.integer("total_params"), peak_memory_bytes=record.integer("peak_memory_bytes"),
        memory_kind=record.text("memory_kind", optional=True) or "unknown",
        train_seconds=record.number("train_seconds"),
        train_samples_per_second=record.number("train_samples_per_second"),
        artifact_bytes=record.integer("artifact_bytes"), device=record.text("device", optional=True) or "unknown",
        inference=_inference(record.child("inference")) if record.raw("inference", optional=True) is not None else None,
        steps=record.integer("steps"), hyperparameters=record.mapping("hyperparameters"),
    )


def _deployed(record: _Reader) -> Deployed:
    return Deployed(latency_ms=record.number("latency_ms"), throughput=record.number("throughput"),
                    memory_bytes=record.integer("memory_bytes"))


def _inference(record: _Reader) -> Inference:
    equal = record.raw("predictions_equal", optional=True)
    if equal is not None and not isinstance(equal, bool):
        raise record._fail("predictions_equal", "true, false or null", equal)
    return Inference(
        as_trained=_deployed(record.child("as_trained")),
        merged=_deployed(record.child("merged")) if record.raw("merged", optional=True) is not None else None,
        merge_note=record.text("merge_note", optional=True),
        max_logit_difference=record.number("max_logit_difference", optional=True), predictions_equal=equal,
        tolerance=record.number("tolerance"), examples=record.integer("examples"),
        batch_size=record.integer("batch_size"), passes=record.integer("passes"), threads=record.integer("threads"),
        mean_tokens=record.number("mean_tokens"), seconds=record.number("seconds"),
    )
