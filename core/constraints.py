"""The user's constraints on a strategy (``--max-memory 8GB`` and the like), each declared once: its flag, what it
limits, and how a run record measures it. ``runners.recommend`` applies them to a finished comparison,
``runners.choose`` to a race as soon as a run has measured them (trainable parameters: before any training).
Torch-free."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from core.records import RunResult
from core.units import format_bytes, format_count, format_milliseconds, format_seconds


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
    Limit("max_memory_bytes", "--max-memory", "peak memory", format_bytes, lambda run: run.peak_memory_bytes),
    Limit("max_train_seconds", "--max-train-time", "training time", format_seconds, lambda run: run.train_seconds),
    Limit("max_trainable_params", "--max-trainable-params", "trainable parameters", format_count,
          lambda run: run.trainable_params, before_training=True),
    Limit("max_artifact_bytes", "--max-artifact-size", "artifact size", format_bytes, lambda run: run.artifact_bytes),
    Limit("max_latency_ms", "--max-latency", "inference latency per example (batch 1)", format_milliseconds,
          lambda run: deployed(run, "latency_ms")),
    Limit("max_inference_memory_bytes", "--max-inference-memory", "inference memory", format_bytes,
          lambda run: deployed(run, "memory_bytes")),
)


def broken(runs: list[RunResult], constraints: Constraints) -> list[str]:
    """Every limit a strategy's runs break (the worst run counts), as one-line reasons; a limit none of the runs
    measured is not broken here (it is checked again when a run measures it)."""
    reasons = []
    for limit in constraints.limits():
        values = [value for run in runs if (value := limit.measure(run)) is not None]
        if values and (reason := limit.exceeded(max(values), constraints)):
            reasons.append(reason)
    return reasons
