"""The search space: the training hyperparameters every strategy shares, plus the strategy's own
(declared next to the strategy in ``strategies/``). Defaults come from ``peftbench.config.TrainConfig``."""

from __future__ import annotations

from typing import Any

import optuna

from peftbench.config import TrainConfig
from peftbench.strategy import Hyperparameter, Strategy

WARMUP = Hyperparameter("warmup_ratio", TrainConfig.warmup_ratio, 0.0, 0.2, help="fraction of steps of linear warm-up")
WEIGHT_DECAY = Hyperparameter("weight_decay", TrainConfig.weight_decay, 0.0, 0.1, help="AdamW weight decay")


def suggest(trial: optuna.Trial, strategy: type[Strategy], batch_sizes: tuple[int, ...], max_epochs: int) -> dict[str, Any]:
    """Ask the trial for one configuration; returns the shared values and ``strategy_params``."""
    values: dict[str, Any] = {
        "lr": strategy.learning_rate.suggest(trial),
        "batch_size": trial.suggest_categorical("batch_size", list(batch_sizes)),
        "epochs": trial.suggest_int("epochs", 1, max_epochs) if max_epochs > 1 else 1,
        "warmup_ratio": WARMUP.suggest(trial),
        "weight_decay": WEIGHT_DECAY.suggest(trial),
    }
    values["strategy_params"] = {h.name: h.suggest(trial) for h in strategy.hyperparameters}
    return values


def defaults(strategy: type[Strategy], batch_sizes: tuple[int, ...], max_epochs: int) -> dict[str, Any]:
    """The strategy's own defaults as trial params: the first trial of every study, so a small budget
    always includes the configuration known to work, and the search only has to beat it."""
    params: dict[str, Any] = {
        "lr": strategy.learning_rate.default,
        "batch_size": TrainConfig.batch_size if TrainConfig.batch_size in batch_sizes else batch_sizes[0],
        "warmup_ratio": WARMUP.default,
        "weight_decay": WEIGHT_DECAY.default,
        **{h.name: h.default for h in strategy.hyperparameters},
    }
    if max_epochs > 1:
        params["epochs"] = max_epochs
    return params


def from_params(params: dict[str, Any], strategy: type[Strategy]) -> dict[str, Any]:
    """The same shape as :func:`suggest` from a finished trial's params (for re-running the best)."""
    own = {h.name for h in strategy.hyperparameters}
    values = {k: v for k, v in params.items() if k not in own}
    values.setdefault("epochs", 1)
    values["strategy_params"] = {k: v for k, v in params.items() if k in own}
    return values
