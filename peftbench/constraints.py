"""The user's constraints on a strategy (``--max-memory 8GB`` and the like), each declared once: its flag, what it
limits, and how a run record measures it. ``runners.recommend`` applies them to a finished comparison,
``runners.choose`` to a race as soon as a run has measured them (trainable parameters: before any training). The
costs ``--prefer`` chooses on among interchangeable strategies are here too, for the same two. Torch-free."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from peftbench.records import RunResult
from peftbench.units import (format_bytes, format_count, format_milliseconds, format_seconds, parse_bytes, parse_count,
                        parse_milliseconds, parse_seconds)


@dataclass(frozen=True)
class Constraints:
    max_memory_bytes: int | None = None
    max_train_seconds: float | None = None
    max_trainable_params: int | None = None
    max_artifact_bytes: int | None = None
    max_latency_ms: float | None = None
    max_inference_memory_bytes: int | None = None
    cpu_only: bool = False  # every strategy runs on a CPU: a note on where the numbers came from, not a limit

    def limits(self) -> list["Limit"]:
        """The numeric constraints that are set."""
        return [limit for limit in LIMITS if getattr(self, limit.field) is not None]

    def describe(self) -> str:
        parts = [f"{limit.name} ≤ {limit.render(getattr(self, limit.field))}" for limit in self.limits()]
        if self.cpu_only:
            parts.append("runs on a CPU")
        return ", ".join(parts) or "none"


def deployed(run: RunResult, measure: str) -> float | None:
    """The cheapest form of a run's trained model that gives its predictions (as trained, or merged where merging
    keeps them: ``runners.export --merge``), on ``measure``; None where inference was not measured."""
    return min((getattr(form, measure) for form in run.inference.forms()), default=None) if run.inference else None


@dataclass(frozen=True)
class Limit:
    field: str  # Constraints attribute
    flag: str
    name: str
    render: Callable[[float], str]
    measure: Callable[[RunResult], float | None]  # from one run record; None: not measured by that run
    row: str  # the same cost in a report's table row (reports.tables.StrategyRow), the worst of its seed runs
    parse: Callable[[str], float]  # the flag's value as a person types it
    example: str  # for the flag's help
    before_training: bool = False  # known from the model as built, before a step is taken

    def exceeded(self, value: float | None, constraints: Constraints) -> str | None:
        """A one-line reason when ``value`` breaks this limit."""
        limit = getattr(constraints, self.field)
        if value is None:
            return f"{self.name} not measured, so {self.flag} cannot be checked"
        if value <= limit:
            return None
        return f"{self.name} {self.render(value)} > {self.render(limit)} ({self.flag})"


LIMITS = (
    Limit("max_memory_bytes", "--max-memory", "peak memory", format_bytes, lambda run: run.peak_memory_bytes,
          "peak_memory_bytes", parse_bytes, "peak memory per run, e.g. 8GB, 512MiB"),
    Limit("max_train_seconds", "--max-train-time", "training time", format_seconds, lambda run: run.train_seconds,
          "train_seconds", parse_seconds, "training time per run, e.g. 90s, 10min, 2h"),
    Limit("max_trainable_params", "--max-trainable-params", "trainable parameters", format_count,
          lambda run: run.trainable_params, "trainable_params", parse_count, "trainable parameters, e.g. 1M, 200k",
          before_training=True),
    Limit("max_artifact_bytes", "--max-artifact-size", "artifact size", format_bytes, lambda run: run.artifact_bytes,
          "artifact_bytes", parse_bytes, "size of what the strategy must save, e.g. 50MB"),
    # inference: the best form that gives the trained predictions (merged, where merging keeps them)
    Limit("max_latency_ms", "--max-latency", "inference latency per example (batch 1)", format_milliseconds,
          lambda run: deployed(run, "latency_ms"), "deployed_latency_ms", parse_milliseconds,
          "inference latency per example at batch 1, e.g. 5ms, 0.5s"),
    Limit("max_inference_memory_bytes", "--max-inference-memory", "inference memory", format_bytes,
          lambda run: deployed(run, "memory_bytes"), "deployed_memory_bytes", parse_bytes,
          "memory of the deployed model's weights, e.g. 200MB"),
)


@dataclass(frozen=True)
class Preference:
    """A cost to choose on among interchangeable strategies (``--prefer``)."""

    name: str
    row: str  # the cost in a report's table row (reports.tables.StrategyRow)
    one: str  # what one strategy does, e.g. "trains {} parameters"
    render: Callable[[float], str]
    measure: Callable[[RunResult], float | None]  # from one run record


PREFERENCES = {
    "params": Preference("params", "trainable_params", "trains {} parameters", format_count,
                         lambda run: run.trainable_params),
    "memory": Preference("memory", "peak_memory_bytes", "peaks at {} of memory", format_bytes,
                         lambda run: run.peak_memory_bytes),
    "time": Preference("time", "train_seconds", "trains in {}", format_seconds, lambda run: run.train_seconds),
    "latency": Preference("latency", "deployed_latency_ms", "answers in {} per example", format_milliseconds,
                          lambda run: deployed(run, "latency_ms")),
}
DEFAULT_PREFERENCE = "params"
MATERIAL = 0.10  # a cost decides between interchangeable strategies only where it is at least this much lower


def broken(runs: list[RunResult], constraints: Constraints) -> list[str]:
    """Every limit a strategy's runs break (the worst run counts), as one-line reasons; a limit none of the runs
    measured is not broken here (it is checked again when a run measures it)."""
    reasons = []
    for limit in constraints.limits():
        values = [value for run in runs if (value := limit.measure(run)) is not None]
        if values and (reason := limit.exceeded(max(values), constraints)):
            reasons.append(reason)
    return reasons
