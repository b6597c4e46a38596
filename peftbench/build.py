"""Building a run's model: the encoder loaded as the strategy wants it, our head on top, and the strategy
choosing what trains. Shared by the training loop and by reloading a saved run (``peftbench.artifacts``)."""

from __future__ import annotations

import random

import numpy as np
import torch

from peftbench.config import TrainConfig
from peftbench.errors import UserError
from peftbench.architecture import is_causal
from peftbench.classifier import SequenceClassifier
from peftbench.models import load_encoder, resolve_pooling
from peftbench.strategy import Strategy


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def build_model(config: TrainConfig, strategy: Strategy, num_labels: int, total_steps: int) -> SequenceClassifier:
    """Load the encoder as the strategy wants it, add the head, let the strategy choose what trains.

    Seeded first: peft creates LoRA weights inside ``prepare``, and the head is initialised here.
    """
    seed_everything(config.seed)
    encoder = load_encoder(config.model, strategy.quantization())
    strategy.loaded(encoder)  # before the first forward pass, which is_causal makes
    causal = is_causal(encoder)
    model = SequenceClassifier(encoder, num_labels, resolve_pooling(config.pooling, encoder, causal), causal=causal)
    strategy.prepare(model, total_steps)
    if config.gradient_checkpointing:
        enable_gradient_checkpointing(model, strategy)
    return model


def enable_gradient_checkpointing(model: SequenceClassifier, strategy: Strategy) -> None:
    """Recompute each block's activations in the backward pass instead of keeping them: memory for time.
    Non-reentrant checkpointing needs no input that requires grad, so it works under every strategy."""
    if strategy.encoder_frozen:
        return  # nothing flows backward through a frozen encoder
    encoder = model.encoder
    base = encoder.get_base_model() if hasattr(encoder, "get_base_model") else encoder
    if not getattr(base, "supports_gradient_checkpointing", False):
        raise UserError(f"--gradient-checkpointing: {type(base).__name__} does not support gradient checkpointing")
    base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
