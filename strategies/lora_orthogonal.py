"""LoRA with orthogonal initialisation (peft's ``init_lora_weights="orthogonal"``, from Datta's "Rethinking LoRA
initialisation" and close to OLoRA: Büyükakyüz, 2024, arXiv:2406.01775) through peft.

A and B both start random and non-zero, yet their product is exactly zero: the rank × rank orthogonal factor of
a random matrix's QR decomposition is split into its odd and even rows, A is built on the odd ones and B on the
even ones, and odd and even rows of an orthogonal matrix are orthogonal, so BA = 0. Training thus starts from the
pretrained function with both factors receiving gradient from the first step (LoRA's zero B gives A none at
first), without rewriting the base weights as OLoRA does (peft's docs: "it resembles olora, but the base weights
are left untouched"). The rank must be even. LoRA's learning rate, scale and other defaults; A and B are random,
not part of the pretrained weight, so they decay.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.lora import Lora

EVEN_RANK = Hyperparameter("rank", 8, choices=(2, 4, 8, 16, 32, 64), help="LoRA rank r (even)")


class LoraOrthogonal(Lora):
    name = "lora_orthogonal"
    paper = None  # peft's orthogonal init has no paper (a blog post, peft PR #2389); OLoRA is another method
    label = "LoRA-orth"
    groups = ("lora-family",)
    summary = "LoRA with non-zero orthogonal A and B whose product starts at zero; base untouched (peft)"
    hyperparameters = tuple(EVEN_RANK if h.name == "rank" else h for h in Lora.hyperparameters)

    def lora_options(self):
        return {"init_lora_weights": "orthogonal"}
