"""What a strategy is: how the model is loaded, which parameters train, at which learning rates,
and which hyperparameters it owns (with ranges the Optuna runner searches and defaults for one run)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from torch import nn

from core.errors import UserError
from core.models import SequenceClassifier

NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")


@dataclass(frozen=True)
class Hyperparameter:
    """One tunable value: its default, and the range (``low``/``high``) or ``choices`` to search."""

    name: str
    default: Any
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()
    help: str = ""

    def suggest(self, trial) -> Any:
        """Ask an Optuna trial for a value from this hyperparameter's range."""
        if self.choices:
            return trial.suggest_categorical(self.name, list(self.choices))
        if isinstance(self.default, int) and not isinstance(self.default, bool):
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)

    def parse(self, text: str) -> Any:
        """Turn a command-line string into a valid value, or raise UserError saying what is allowed."""
        if self.choices:
            for choice in self.choices:
                if text == str(choice):
                    return choice
            raise UserError(f"{self.name} must be one of {', '.join(map(str, self.choices))}, got {text!r}")
        kind = int if isinstance(self.default, int) and not isinstance(self.default, bool) else float
        try:
            value = kind(text)
        except ValueError:
            raise UserError(f"{self.name} must be {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        self.check(value)
        return value

    def check(self, value: Any) -> None:
        if self.choices:
            if value not in self.choices:
                raise UserError(f"{self.name} must be one of {', '.join(map(str, self.choices))}, got {value!r}")
            return
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise UserError(f"{self.name} must be a finite number, got {value!r}")
        if self.low is not None and value < self.low or self.high is not None and value > self.high:
            raise UserError(f"{self.name}={value} is outside its valid range [{self.low}, {self.high}]")

    def describe(self) -> str:
        span = "|".join(map(str, self.choices)) if self.choices else f"{self.low:g}..{self.high:g}{' log' if self.log else ''}"
        return f"{self.name}={self.default} ({span}) {self.help}".rstrip()


class Strategy:
    """Base class. A subclass sets ``name``/``summary``, its own ``hyperparameters``, its learning-rate
    range, and overrides :meth:`prepare` (and, where needed, :meth:`quantization` or :meth:`param_groups`)."""

    name: ClassVar[str]
    summary: ClassVar[str]
    learning_rate: ClassVar[Hyperparameter] = Hyperparameter("lr", 1e-4, 1e-5, 3e-4, log=True, help="peak learning rate")
    hyperparameters: ClassVar[tuple[Hyperparameter, ...]] = ()
    encoder_frozen: ClassVar[bool] = False  # True: the encoder never changes, so its features can be cached

    def quantization(self, params: dict[str, Any]):
        """A transformers quantization config for loading the encoder, or None for full precision."""
        return None

    def prepare(self, model: SequenceClassifier, params: dict[str, Any]) -> None:
        """Decide what trains: set ``requires_grad`` and/or wrap ``model.encoder``. Default: everything."""

    def param_groups(self, model: nn.Module, lr: float, weight_decay: float, params: dict[str, Any]) -> list[dict]:
        """Optimizer groups over the trainable parameters; no weight decay on biases and norms."""
        return decay_groups(trainable_named_parameters(model), lr, weight_decay)

    @classmethod
    def resolve_params(cls, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """This strategy's hyperparameters: defaults, overridden and validated."""
        known = {h.name: h for h in cls.hyperparameters}
        values = {h.name: h.default for h in cls.hyperparameters}
        for key, value in (overrides or {}).items():
            if key not in known:
                names = ", ".join(known) or "none"
                raise UserError(f"strategy {cls.name} has no hyperparameter {key!r} (it has: {names})")
            value = known[key].parse(value) if isinstance(value, str) else value
            known[key].check(value)
            values[key] = value
        return values


def trainable_named_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    return [(name, p) for name, p in model.named_parameters() if p.requires_grad]


def decay_groups(named: list[tuple[str, nn.Parameter]], lr: float, weight_decay: float) -> list[dict]:
    decay = [p for n, p in named if not n.endswith(NO_DECAY)]
    no_decay = [p for n, p in named if n.endswith(NO_DECAY)]
    groups = [{"params": decay, "lr": lr, "weight_decay": weight_decay},
              {"params": no_decay, "lr": lr, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def freeze_encoder(model: SequenceClassifier) -> None:
    """Freeze every encoder parameter; the head stays trainable."""
    for parameter in model.encoder.parameters():
        parameter.requires_grad = False
