"""The contract a strategy fulfils to plug into the core: how the model is loaded, which parameters
train, at which learning rates, with which optimiser and per-step hook, and which hyperparameters it owns
(with ranges the Optuna runner searches and defaults for one run).

It lives here, with the loop it plugs into, so the core never imports the strategies: the loop receives
a :class:`Strategy` object and calls these methods, whatever the strategy's name. What the reports and
the recommender need to know of a strategy is declared data (:class:`StrategyInfo`), carried in every
run record, so a new strategy needs no edit outside its own file and one registry line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from peftbench.errors import UserError

if TYPE_CHECKING:  # torch is imported where a model is built, not where a results file is read (reports/)
    import torch
    from torch import nn

# What a strategy changes, in the taxonomy of the PEFT surveys (Lialin et al. 2023; Han et al. 2024).
FAMILIES = {
    "full": "every parameter trains",
    "selective": "a chosen subset of the pretrained parameters trains (or only the head)",
    "additive": "new modules are added to the frozen encoder and trained",
    "reparameterised": "a low-rank or structured update of frozen weights trains",
    "quantised": "a reparameterised update trains on a quantised frozen encoder",
    "prompt": "virtual tokens or prefixes are prepended to a frozen encoder's inputs",
}
# What a strategy's initialisation does to the pretrained weights it adapts (``Strategy.base_weights``): saving and
# exporting a trained adapter depend on it (``peftbench.artifacts``), so the strategy declares it and the contract test
# (tests/test_contract.py) checks the declaration against the built model.
BASE_WEIGHTS = {
    "kept": "the pretrained weights stay exactly as loaded",
    "residual": "rewritten at initialisation into a residual whose complement a LoRA adapter holds; peft converts the "
                "trained adapter into a LoRA on the untouched base (PiSSA, OLoRA)",
    "rewritten": "rewritten at initialisation in a way no adapter on the untouched base reproduces (a truncated or "
                 "quantised weight): the trained model exports merged, not as an adapter",
}
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
        if self.is_int:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)

    @property
    def is_int(self) -> bool:
        return isinstance(self.default, int) and not isinstance(self.default, bool)

    def parse(self, text: str) -> Any:
        """Turn a command-line string into a valid value, or raise UserError saying what is allowed."""
        if self.choices:
            for choice in self.choices:
                if text == str(choice):
                    return choice
            raise UserError(f"{self.name} must be one of {', '.join(map(str, self.choices))}, got {text!r}")
        kind = int if self.is_int else float
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


@dataclass(frozen=True)
class StrategyInfo:
    """What reports, plots and the recommender know of a strategy, as data (``results.json`` carries it)."""

    name: str
    label: str  # short, for legends and table rows
    family: str  # a key of FAMILIES
    summary: str
    encoder_frozen: bool  # the encoder's pretrained weights never change
    step_hook: bool  # needs a call after every optimiser step (e.g. AdaLoRA's rank allocation)
    own_optimizer: bool  # builds its own optimiser (e.g. LoRA+'s per-matrix learning rates)
    reference: bool  # the baseline others are measured against ("Δ vs full")
    # its place among its family's registered strategies, in registry order, and their number: these fix its colour
    # and marker in every figure of every report (reports.style); None for a strategy outside the registry
    family_index: int | None = None
    family_size: int | None = None
    # one BibTeX entry: the paper the strategy's method comes from, cited in report/references.bib; None where it has
    # none on record (or the file was written before strategies declared it)
    paper: str | None = None
    # its encoder is loaded quantised (4-bit) and computes with the quantised weights (it declares quantization());
    # None: the file was written before strategies declared it
    quantised_encoder: bool | None = None


class Strategy:
    """Base class. A subclass declares ``name``/``family``/``summary`` (and ``label`` if shorter than its
    name), its own ``hyperparameters``, its learning-rate range, and overrides :meth:`prepare` (and, where
    needed, :meth:`quantization`, :meth:`loaded`, :meth:`param_groups`, :meth:`make_optimizer` or :meth:`after_optimizer_step`).

    An instance is a strategy with its hyperparameters resolved: ``Lora({"rank": 16}).params``."""

    name: ClassVar[str]
    family: ClassVar[str]
    summary: ClassVar[str]
    label: ClassVar[str | None] = None
    reference: ClassVar[bool] = False
    groups: ClassVar[tuple[str, ...]] = ()  # names --strategies accepts for several at once, e.g. "classic"
    learning_rate: ClassVar[Hyperparameter] = Hyperparameter("lr", 1e-4, 1e-5, 3e-4, log=True, help="peak learning rate")
    hyperparameters: ClassVar[tuple[Hyperparameter, ...]] = ()
    encoder_frozen: ClassVar[bool] = False  # True: the encoder never changes, so its features can be cached
    requires: ClassVar[tuple[str, ...]] = ()  # Python packages it needs beyond the core's (e.g. bitsandbytes)
    family_index: ClassVar[int | None] = None  # set by the registry (strategies/__init__.py), for reports' styles
    family_size: ClassVar[int | None] = None
    base_weights: ClassVar[str] = "kept"  # a key of BASE_WEIGHTS: what initialisation does to the pretrained weights
    paper: ClassVar[str | None] = None  # one BibTeX entry of the method's paper; each strategy declares its own

    def __init__(self, params: dict[str, Any] | None = None):
        self.params = self.resolve_params(params)

    @classmethod
    def info(cls) -> StrategyInfo:
        return StrategyInfo(
            name=cls.name, label=cls.label or cls.name, family=cls.family, summary=cls.summary,
            encoder_frozen=cls.encoder_frozen, step_hook=cls.after_optimizer_step is not Strategy.after_optimizer_step,
            own_optimizer=cls.make_optimizer is not Strategy.make_optimizer, reference=cls.reference,
            family_index=cls.family_index, family_size=cls.family_size, paper=cls.paper,
            quantised_encoder=cls.quantization is not Strategy.quantization,
        )

    @classmethod
    def unavailable(cls) -> str | None:
        """Why this strategy cannot run here (a package it ``requires`` does not import), or None."""
        import importlib

        for package in cls.requires:
            try:
                importlib.import_module(package)
            except Exception as error:  # noqa: BLE001 — ImportError, or a RuntimeError from a missing native library
                detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                return f"needs {package}, which cannot load here ({detail}); pip install {package}"
        return None

    def quantization(self):
        """A transformers quantization config for loading the encoder, or None for full precision."""
        return None

    def loaded(self, encoder: nn.Module) -> None:
        """Called on the encoder as soon as it is loaded, before anything runs it (``peftbench.build``): for settings
        that must hold from its first forward pass (e.g. a quantised layer's inference-only repacking, which a
        first pass in eval mode would trigger). Default: nothing."""

    def prepare(self, model, total_steps: int) -> None:
        """Decide what trains: set ``requires_grad`` and/or wrap ``model.encoder``. Default: everything.
        ``total_steps`` is the run's optimiser step count, for strategies whose schedule depends on it."""

    def param_groups(self, model: nn.Module, lr: float, weight_decay: float) -> list[dict]:
        """Optimizer groups over the trainable parameters; no weight decay on biases and norms."""
        return decay_groups(trainable_named_parameters(model), lr, weight_decay)

    def make_optimizer(self, model: nn.Module, lr: float, weight_decay: float, fused: bool) -> torch.optim.Optimizer:
        """AdamW over :meth:`param_groups`; fused: one kernel over a group's tensors instead of ~10 passes per
        tensor (on CPU it cut full fine-tuning's optimizer step from ~150 to ~35 ms, benchmarks/NOTES.md)."""
        import torch

        return torch.optim.AdamW(self.param_groups(model, lr, weight_decay), lr=lr, fused=fused)

    def after_optimizer_step(self, model, step: int, total_steps: int) -> None:
        """Called after every optimiser step, before gradients are cleared. Default: nothing."""

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


def freeze_encoder(model) -> None:
    """Freeze every encoder parameter; the head stays trainable."""
    for parameter in model.encoder.parameters():
        parameter.requires_grad = False
