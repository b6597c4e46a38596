"""The configuration of one training run and the record it produces."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from core.errors import UserError
from core.models import DEFAULT_MODEL, POOLINGS
from core.tasks import DEV_FROM_TRAIN, TaskRequest

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class TrainConfig:
    """Everything that decides one run besides the strategy (which ``core.train.train`` receives as an
    object). ``lr=None`` means the strategy's default learning rate. Every default here is the one the
    runners and the search space use."""

    task: str = "sst2"
    model: str = DEFAULT_MODEL
    data_dir: str | None = None
    text_columns: tuple[str, ...] = ()
    label_column: str = "label"
    train_size: int | None = None
    carve_size: int | None = None  # rows carved from train when the task has no labelled test split
    protocol: str = DEV_FROM_TRAIN  # whether those rows become dev (the dev file then held-out) or held-out
    drop_invalid_rows: bool = False  # leave out rows with an empty text or a bad label (counted) instead of refusing
    max_length: int = 128
    pooling: str = "auto"  # last real token for causal decoders, mean over tokens otherwise
    lr: float | None = None
    batch_size: int = 32
    epochs: int = 1
    max_steps: int | None = None
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    eval_every: int = 0  # in optimizer steps; 0 evaluates once per epoch
    patience: int = 0  # evaluations without improvement before stopping; 0 never stops early
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    gradient_checkpointing: bool = False  # recompute activations in the backward pass: less memory, more time
    cache_features: bool = True  # strategies with a frozen encoder train the head on cached features
    memory_cap_mb: int | None = None  # CPU stand-in for an out-of-memory error
    output_dir: str | None = None  # where the trained weights/adapter are saved (safetensors)
    measure_inference: bool = False  # time the trained model as deployed at the end (core.inference)
    progress: bool = True

    def task_request(self) -> TaskRequest:
        return TaskRequest(self.task, self.data_dir, tuple(self.text_columns), self.label_column,
                           self.train_size, self.carve_size, self.protocol, self.seed, self.drop_invalid_rows)

    def validate(self) -> None:
        """Reject impossible values with a message that says what would be right."""
        checks = [
            (self.lr is None or (math.isfinite(self.lr) and self.lr > 0), f"lr must be a positive number, got {self.lr}"),
            (self.batch_size >= 1, f"batch size must be at least 1, got {self.batch_size}"),
            (self.epochs >= 1, f"epochs must be at least 1, got {self.epochs}"),
            (self.max_steps is None or self.max_steps >= 1, f"max steps must be at least 1, got {self.max_steps}"),
            (0 <= self.warmup_ratio < 1, f"warmup ratio must be in [0, 1), got {self.warmup_ratio}"),
            (0 <= self.weight_decay < 1, f"weight decay must be in [0, 1), got {self.weight_decay}"),
            (self.max_grad_norm > 0, f"max grad norm must be positive, got {self.max_grad_norm}"),
            (8 <= self.max_length <= 4096, f"max length must be in [8, 4096], got {self.max_length}"),
            (self.train_size is None or self.train_size >= 2, f"train size must be at least 2, got {self.train_size}"),
            (self.eval_every >= 0, f"eval every must be 0 (per epoch) or a positive step count, got {self.eval_every}"),
            (self.patience >= 0, f"patience must be 0 (off) or positive, got {self.patience}"),
            (0 <= self.seed < 2**32, f"seed must be an integer in [0, 2**32 - 1], got {self.seed}"),
            (self.pooling in POOLINGS, f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}"),
            (self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}"),
            (self.memory_cap_mb is None or self.memory_cap_mb > 0, f"memory cap must be positive, got {self.memory_cap_mb}"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        config = cls(**{k: v for k, v in values.items() if k in known})
        config.text_columns = tuple(config.text_columns)
        return config


@dataclass
class Evaluation:
    """One evaluation on dev during training; what the callbacks (e.g. Optuna pruning) receive."""

    step: int
    samples_seen: int
    epoch: int
    metrics: dict[str, float]
    value: float  # the task's primary metric
    last: bool = False  # the run's final step: nothing is left to save by stopping here


@dataclass
class DeployedCost:
    """What one form of a trained model costs to run (``core.inference``)."""

    latency_ms: float  # per example at batch 1: median over timed passes over the sample
    throughput: float  # examples per second at ``InferenceCost.batch_size``: median over timed passes
    memory_bytes: int  # parameters and buffers in memory (4-bit weights packed, with their constants)


@dataclass
class InferenceCost:
    """A trained model's inference cost as deployed, as trained and (where peft can merge its adapter into
    the base weights) merged, and what exactly was measured."""

    as_trained: DeployedCost  # adapters as side paths or extra layers, prompts prepended, 4-bit base as trained
    merged: DeployedCost | None  # the adapter merged in (peft merge_and_unload); None: see merge_note
    merge_note: str | None  # why nothing was merged, or that merged predictions differ from the trained ones
    max_logit_difference: float | None  # merged vs as trained on the sample: max |Δlogit|
    predictions_equal: bool | None  # max_logit_difference ≤ tolerance
    tolerance: float
    examples: int  # sample rows from dev, timed one by one and in batches of batch_size
    batch_size: int
    passes: int  # timed passes, after warmup_passes untimed ones
    warmup_passes: int
    mean_tokens: float  # mean tokens per sample row (before any virtual tokens)
    threads: int  # torch's CPU threads
    seconds: float  # what the measurement added to the run

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "InferenceCost":
        merged = values.get("merged")
        return cls(**{**values, "as_trained": DeployedCost(**values["as_trained"]),
                      "merged": DeployedCost(**merged) if merged is not None else None})


@dataclass
class RunResult:
    """The record of one run: what it scored, what it cost, and exactly what produced it."""

    task: str
    model: str
    strategy: str
    seed: int
    hyperparameters: dict[str, Any]
    primary_metric: str
    metrics: dict[str, dict[str, float]]  # split name ("dev", "test") → metric → value
    trainable_params: int
    total_params: int
    peak_memory_bytes: int
    memory_kind: str
    train_seconds: float
    eval_seconds: float
    train_samples_per_second: float
    train_samples_seen: int
    train_tokens_seen: int
    steps: int
    stopped_early: bool
    artifact_bytes: int
    artifact_path: str | None
    learning_curve: list[dict[str, float]]
    data_sizes: dict[str, int]
    data_notes: list[str]
    device: str
    precision: str
    versions: dict[str, str]
    feature_seconds: float = 0.0  # frozen encoder: computing the cached features (included in train/eval time)
    strategy_info: dict[str, Any] = field(default_factory=dict)  # core.strategy.StrategyInfo: what reports need
    dropped_rows: dict[str, dict[str, int]] = field(default_factory=dict)  # --drop-invalid-rows: file → reason → n
    inference: InferenceCost | None = None  # TrainConfig.measure_inference: the trained model's inference cost

    @property
    def trainable_percent(self) -> float:
        return 100.0 * self.trainable_params / max(self.total_params, 1)

    def score(self, split: str = "dev") -> float:
        return self.metrics[split][self.primary_metric]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunResult":
        known = {f.name: values[f.name] for f in fields(cls) if f.name in values}
        if known.get("inference") is not None:
            known["inference"] = InferenceCost.from_dict(known["inference"])
        return cls(**known)
