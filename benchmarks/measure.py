"""What one benchmark run measured, the work it did in FLOPs, and the machine's own yardstick (a large
matmul timed in the same process), so achieved FLOP/s is judged against what this machine can do now."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn

# Paths through which the same run is made.
TRAINER = "trainer"  # A: transformers.Trainer, padding to max_length, as a tutorial writes it
TRAINER_BEST = "trainer-best"  # A at its best: dynamic padding, length-grouped batches, fused AdamW
CORE = "core"  # B: peftbench.train.train
CORE_NO_CACHE = "core-nocache"  # B for a frozen encoder, without the feature cache (head trained through it)
CORE_COLD = "core-cold"  # B for a frozen encoder, the first trial of a process: features computed, not cached


@dataclass
class RunMeasurement:
    """One training run through one path."""

    path: str
    strategy: str
    repetition: int
    samples: int  # training examples timed
    tokens: int  # real (unpadded) tokens in those examples
    train_seconds: float  # the training loop only (a frozen core run includes computing its features)
    wall_seconds: float  # the whole run: model load, training, final evaluation
    peak_memory_bytes: int
    memory_kind: str
    metric: str
    dev_score: float | None  # None for a timing-only run that stopped after a few steps

    @property
    def samples_per_second(self) -> float:
        return self.samples / max(self.train_seconds, 1e-9)


def non_embedding_parameters(model: nn.Module) -> int:
    """Parameters outside embedding tables: the ones every token multiplies through (Kaplan et al. 2020)."""
    embedding = {id(p) for module in model.modules() if isinstance(module, nn.Embedding) for p in module.parameters()}
    return sum(p.numel() for p in model.parameters() if id(p) not in embedding)


def training_flops(non_embedding: int, tokens: int) -> float:
    """6·N·T: 2·N·T forward, 4·N·T backward. Attention scores and padding are not counted, so padded
    tokens a path computes anyway earn it nothing."""
    return 6.0 * non_embedding * tokens


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_flops_per_second(device: torch.device, dtype: torch.dtype, size: int, repeats: int) -> float:
    """Achieved FLOP/s of ``repeats`` square matmuls: the ceiling a training step's matmuls could reach."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    a @ b  # warm-up: thread pools, kernel selection
    synchronize(device)
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronize(device)
    return 2.0 * size**3 * repeats / (time.perf_counter() - started)


def spread(values: list[float]) -> tuple[float, float, float]:
    """(median, min, max)."""
    return statistics.median(values), min(values), max(values)
