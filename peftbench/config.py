"""The configuration of one training run (its record is ``peftbench.records.RunResult``)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from peftbench.errors import UserError
from peftbench.models import DEFAULT_MODEL, POOLINGS
from peftbench.tasks import DEV_FROM_TRAIN, MIN_TRAIN_SIZE, TaskRequest

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class TrainConfig:
    """Everything that decides one run besides the strategy (which ``peftbench.train.train`` receives as an
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
    metric: str | None = None  # the primary metric instead of the task's own (a custom task's default: peftbench.task_files)
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
    measure_inference: bool = False  # time the trained model as deployed at the end (peftbench.inference)
    progress: bool = True

    def task_request(self) -> TaskRequest:
        return TaskRequest(self.task, self.data_dir, tuple(self.text_columns), self.label_column,
                           self.train_size, self.carve_size, self.protocol, self.seed, self.drop_invalid_rows,
                           self.metric)

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
            (self.train_size is None or self.train_size >= MIN_TRAIN_SIZE,
             f"train size must be at least {MIN_TRAIN_SIZE}, got {self.train_size}"),
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
