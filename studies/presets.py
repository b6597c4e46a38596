"""Presets: a few named starting points for a comparison; every value can be overridden by a flag."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from peftbench.errors import UserError
from peftbench.models import DEFAULT_MODEL


@dataclass(frozen=True)
class Preset:
    """How big a comparison is. ``train_size=None`` means the whole training set."""

    name: str
    model: str
    train_size: int | None
    carve_size: int  # carved from train when the task has no labelled test split (dev or held-out: --protocol)
    epochs: int  # the most a trial may train; trials search 1..epochs
    trials: int  # tuning budget per strategy (when the budget is counted in trials)
    seeds: int
    max_length: int
    evals_per_epoch: int  # dev evaluations per epoch: the points where a trial may be pruned
    batch_sizes: tuple[int, ...]
    # A run takes at least this many optimiser steps: on a small training set (a data-size sweep's 100 examples
    # are 4 batches of 32) its epochs repeat until it does, or a ranking there would say how far each strategy
    # gets in 4 steps rather than what 100 examples teach. Evaluations stay evals_per_epoch per searched epoch.
    min_steps: int = 0


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset("smoke", DEFAULT_MODEL, train_size=64, carve_size=32, epochs=1, trials=2, seeds=2, max_length=32,
               evals_per_epoch=2, batch_sizes=(16, 32)),
        # sized to finish all seven strategies in about 15 minutes on 2 CPU cores (README, "Measured"):
        # batch size fixed at 32, which trains ~25% faster per example than 16 on CPU. 4 trials: the defaults,
        # 2 random draws (the expected-best curves need two) and 1 TPE proposal; 4 dev evaluations per epoch put
        # successive halving's first rung at a quarter epoch, so a poor draw costs a quarter of a trial
        Preset("quick", DEFAULT_MODEL, train_size=2000, carve_size=1000, epochs=1, trials=4, seeds=3,
               max_length=64, evals_per_epoch=4, batch_sizes=(32,), min_steps=32),
        # bert-base-uncased where the hub (or a local copy) is available; --model overrides it.
        Preset("full", "bert-base-uncased", train_size=None, carve_size=2000, epochs=3, trials=20, seeds=5,
               max_length=128, evals_per_epoch=2, batch_sizes=(16, 32, 64), min_steps=100),
    )
}


def default_preset_name() -> str:
    """``full`` on a GPU, ``quick`` on CPU, as a person would expect to wait for either."""
    import torch

    return "full" if torch.cuda.is_available() else "quick"


def resolve_preset(name: str, overrides: dict[str, Any]) -> Preset:
    """The preset with every non-None override applied."""
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}: choose from {', '.join(PRESETS)}")
    known = {f.name for f in fields(Preset)}
    return replace(PRESETS[name], **{k: v for k, v in overrides.items() if v is not None and k in known})
