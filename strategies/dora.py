"""DoRA (Liu et al., 2024, "DoRA: Weight-Decomposed Low-Rank Adaptation", ICML 2024, arXiv:2402.09353)
through peft (``LoraConfig(use_dora=True)``).

Each adapted weight is split into a magnitude (one trainable scalar per output row, initialised to the
row norms of the pretrained weight) and a direction, which LoRA updates: W' = m · (W + BA) / ‖W + BA‖.
The paper reports it closing part of the gap between LoRA and full fine-tuning, most at low ranks, for
the cost of the magnitude vector (one value per output feature) and a slower forward pass (the norm of
W + BA is recomputed every step). Defaults are LoRA's (the paper reuses LoRA's configurations).
The magnitudes start at the pretrained weight's row norms, so they get no weight decay (decay would
shrink the pretrained weight, not the update).

This file also holds :class:`LoraVariant`, the LoRA of ``strategies.lora`` with extra ``LoraConfig``
options, on which DoRA, rsLoRA, PiSSA, OLoRA (and QDoRA through DoRA) are built.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from core.strategy import Hyperparameter, decay_groups, trainable_named_parameters
from strategies.lora import Lora, target_modules


def lora_hyperparameters(**defaults: Any) -> tuple[Hyperparameter, ...]:
    """LoRA's hyperparameters (rank, alpha_ratio, dropout, targets), with other defaults where a variant's
    paper recommends them, e.g. ``lora_hyperparameters(dropout=0.0)``."""
    return tuple(replace(h, default=defaults[h.name]) if h.name in defaults else h for h in Lora.hyperparameters)


class LoraVariant(Lora):
    """LoRA through peft with extra ``LoraConfig`` options (:meth:`lora_options`) and, where a variant scales
    differently, its own ``lora_alpha`` (:meth:`lora_alpha`). Not registered itself."""

    groups = ("lora-family",)
    # Name fragments of trained tensors that hold (part of) a pretrained weight rather than an update
    # starting at zero: AdamW's weight decay would shrink the pretrained weight itself, so they get none.
    keep_from_decay: ClassVar[tuple[str, ...]] = ()

    def lora_options(self) -> dict[str, Any]:
        """Keyword arguments for ``peft.LoraConfig`` beyond rank, alpha, dropout and targets."""
        return {}

    def lora_alpha(self) -> float:
        return self.params["alpha_ratio"] * self.params["rank"]

    def prepare(self, model, total_steps):
        from peft import LoraConfig, get_peft_model

        config = LoraConfig(r=self.params["rank"], lora_alpha=self.lora_alpha(), lora_dropout=self.params["dropout"],
                            target_modules=target_modules(model.encoder, self.params["targets"], self.name),
                            bias="none", **self.lora_options())
        model.encoder = get_peft_model(model.encoder, config)

    def param_groups(self, model, lr, weight_decay):
        named = trainable_named_parameters(model)
        kept = [(n, p) for n, p in named if any(part in n for part in self.keep_from_decay)]
        rest = [(n, p) for n, p in named if not any(part in n for part in self.keep_from_decay)]
        return decay_groups(rest, lr, weight_decay) + decay_groups(kept, lr, 0.0)


class Dora(LoraVariant):
    name = "dora"
    label = "DoRA"
    groups = ("lora-family",)
    family = "reparameterised"
    summary = "weight-decomposed LoRA: a trained magnitude per output row, LoRA on the direction (peft)"
    learning_rate = Hyperparameter("lr", 2e-3, 1e-4, 1e-2, log=True, help="peak learning rate (LoRA's)")
    hyperparameters = Lora.hyperparameters  # rank, alpha_ratio, dropout, targets: the paper keeps LoRA's
    keep_from_decay = ("lora_magnitude_vector",)  # the pretrained weight's row norms

    def lora_options(self):
        return {"use_dora": True}
