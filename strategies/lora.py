"""LoRA (Hu et al., 2021) through peft: low-rank updates on the encoder's linear layers.

peft wraps only the encoder; the head is our own module outside the peft model, so it trains and is
saved without relying on ``modules_to_save`` (peft#2171).
"""

from __future__ import annotations

import re

from torch import nn

from core.errors import UserError
from strategies.base import Hyperparameter, Strategy

# Attention query/value projections under the names the common encoder families use.
QUERY_VALUE = re.compile(r"(^|\.)(query|value|q_lin|v_lin|q_proj|v_proj|query_proj|value_proj)$")
TARGETS = ("query_value", "all_linear")


def lora_target_modules(encoder: nn.Module, targets: str) -> list[str]:
    """Names of the encoder's linear layers that get LoRA, found by name so any architecture works."""
    linear = [name for name, module in encoder.named_modules() if isinstance(module, nn.Linear) or
              type(module).__name__.startswith("Linear")]  # bitsandbytes' Linear4bit too
    chosen = linear if targets == "all_linear" else [n for n in linear if QUERY_VALUE.search(n)]
    if not chosen:
        raise UserError(f"LoRA found no {targets} linear layers in {type(encoder).__name__}")
    return sorted({name.rsplit(".", 1)[-1] for name in chosen})


class Lora(Strategy):
    name = "lora"
    summary = "low-rank adapters on attention (or all) linear layers, via peft"
    learning_rate = Hyperparameter("lr", 2e-3, 1e-4, 1e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("rank", 8, 1, 64, log=True, help="LoRA rank r"),
        Hyperparameter("alpha_ratio", 2.0, 0.5, 4.0, help="lora_alpha = alpha_ratio * rank"),
        Hyperparameter("dropout", 0.1, 0.0, 0.3, help="dropout on the LoRA input"),
        Hyperparameter("targets", "query_value", choices=TARGETS, help="which linear layers get LoRA"),
    )

    def prepare(self, model, params):
        from peft import LoraConfig, get_peft_model

        config = LoraConfig(
            r=params["rank"],
            lora_alpha=params["alpha_ratio"] * params["rank"],
            lora_dropout=params["dropout"],
            target_modules=lora_target_modules(model.encoder, params["targets"]),
            bias="none",
        )
        model.encoder = get_peft_model(model.encoder, config)
