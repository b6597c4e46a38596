"""LoRA (Hu et al., 2021) through peft: low-rank updates on the encoder's linear layers.

``targets=attention`` adapts the attention projections peft adapts by default for the model's family
(query and value, as in the LoRA paper), or every attention input projection where peft has no table
(fused ``Wqkv``/``c_attn``/``qkv_proj`` included); ``all_linear`` adapts every linear layer in the
blocks. Both are found from the model's structure (``peftbench.architecture``).

peft wraps only the encoder; the head is our own module outside the peft model, so it trains and is
saved without relying on ``modules_to_save`` (peft#2171). The LoRA variants (DoRA, rsLoRA, PiSSA, OLoRA,
QLoRA, QDoRA) subclass :class:`Lora` and change its ``LoraConfig`` options, alpha or decay exemptions.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from peftbench.architecture import all_linear_targets, find_architecture, lora_attention_targets
from peftbench.errors import UserError
from peftbench.strategy import Hyperparameter, Strategy, decay_groups, trainable_named_parameters

TARGETS = ("attention", "all_linear")


def target_modules(encoder, targets: str, method: str) -> list[str]:
    """Module paths of the encoder's layers that ``targets`` names; one clear line when there are none."""
    arch = find_architecture(encoder)
    chosen = (lora_attention_targets if targets == "attention" else all_linear_targets)(encoder, arch)
    if not chosen:
        raise UserError(f"{method}: found no {targets} linear layers in {arch.model_class}")
    return chosen


def refuse_conv1d(encoder, targets: list[str], method: str) -> None:
    """One line where a method peft implements for ``nn.Linear`` only meets GPT-2's ``Conv1D`` (weight stored
    transposed), instead of a traceback or a shape error deep inside peft."""
    from torch import nn

    conv1d = [path for path in targets if not isinstance(encoder.get_submodule(path), nn.Linear)]
    if conv1d:
        raise UserError(f"{method}: peft implements it for nn.Linear layers only, and {conv1d[0]} of "
                        f"{type(encoder).__name__} is a {type(encoder.get_submodule(conv1d[0])).__name__}")


def stores_transposed(encoder, targets: list[str]) -> bool:
    """GPT-2's Conv1D keeps its weight as (in, out); peft needs to be told (``fan_in_fan_out``)."""
    return any(type(encoder.get_submodule(t)).__name__ == "Conv1D" for t in targets)


class Lora(Strategy):
    name = "lora"
    paper = """@inproceedings{hu2022lora,
  author = {Hu, Edward J. and Shen, Yelong and Wallis, Phillip and Allen-Zhu, Zeyuan and Li, Yuanzhi and
    Wang, Shean and Wang, Lu and Chen, Weizhu},
  title = {{LoRA}: Low-Rank Adaptation of Large Language Models},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2022}
}"""
    groups = ("classic", "lora-family")
    family = "reparameterised"
    summary = "low-rank adapters on attention (or all) linear layers, via peft"
    learning_rate = Hyperparameter("lr", 2e-3, 1e-4, 1e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("rank", 8, 1, 64, log=True, help="LoRA rank r"),
        Hyperparameter("alpha_ratio", 2.0, 0.5, 4.0, help="lora_alpha = alpha_ratio * rank"),
        Hyperparameter("dropout", 0.1, 0.0, 0.3, help="dropout on the LoRA input"),
        Hyperparameter("targets", "attention", choices=TARGETS, help="which linear layers get LoRA"),
    )

    # Whether peft implements the variant for GPT-2's Conv1D too (OLoRA's QR and KaSA's truncation do not).
    takes_conv1d: ClassVar[bool] = True
    # Name fragments of trained tensors that hold (part of) a pretrained weight rather than an update starting
    # at zero (DoRA's magnitudes, PiSSA's A and B): weight decay would shrink the pretrained weight, so none.
    keep_from_decay: ClassVar[tuple[str, ...]] = ()

    def lora_options(self) -> dict[str, Any]:
        """Keyword arguments for ``peft.LoraConfig`` beyond rank, alpha, dropout and targets (the variants')."""
        return {}

    def lora_alpha(self) -> float:
        return self.params["alpha_ratio"] * self.params["rank"]

    def prepare(self, model, total_steps):
        from peft import LoraConfig, get_peft_model

        targets = target_modules(model.encoder, self.params["targets"], self.name)
        if not self.takes_conv1d:
            refuse_conv1d(model.encoder, targets, self.name)
        config = LoraConfig(r=self.params["rank"], lora_alpha=self.lora_alpha(), lora_dropout=self.params["dropout"],
                            target_modules=targets, fan_in_fan_out=stores_transposed(model.encoder, targets),
                            bias="none", **self.lora_options())
        model.encoder = get_peft_model(model.encoder, config)

    def param_groups(self, model, lr, weight_decay):
        named = trainable_named_parameters(model)
        kept = [(n, p) for n, p in named if any(part in n for part in self.keep_from_decay)]
        rest = [(n, p) for n, p in named if not any(part in n for part in self.keep_from_decay)]
        return decay_groups(rest, lr, weight_decay) + decay_groups(kept, lr, 0.0)


def lora_hyperparameters(**defaults: Any) -> tuple[Hyperparameter, ...]:
    """LoRA's hyperparameters (rank, alpha_ratio, dropout, targets), with other defaults where a variant's
    paper recommends them, e.g. ``lora_hyperparameters(dropout=0.0)``."""
    return tuple(replace(h, default=defaults[h.name]) if h.name in defaults else h for h in Lora.hyperparameters)
