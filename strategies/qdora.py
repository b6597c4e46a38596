"""QDoRA: DoRA (Liu et al., 2024, arXiv:2402.09353) on an encoder loaded in 4-bit NF4 by bitsandbytes, as
QLoRA (Dettmers et al., 2023, arXiv:2305.14314) is LoRA on one. The combination was popularised by
Answer.AI ("Efficient finetuning of Llama 3 with FSDP QDoRA", 2024) and is supported by peft's
bitsandbytes ``Linear4bit`` LoRA layer, which dequantises the weight to compute DoRA's norm.

Quantisation (and bitsandbytes' CPU caveats) come from :class:`strategies.qlora.QLora`, the adapter from
:class:`strategies.dora.Dora`; the magnitude vectors are initialised from the row norms of the
dequantised NF4 weights, so they match what the quantised model computes.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.dora import Dora
from strategies.qlora import QLora


class QDora(QLora, Dora):
    name = "qdora"
    paper = QLora.paper  # its quantised training is QLoRA's (DoRA's own paper: strategies.dora)
    label = "QDoRA"
    groups = ("lora-family",)
    family = "quantised"
    summary = "DoRA on a 4-bit NF4-quantised encoder (bitsandbytes)"
    learning_rate = Hyperparameter("lr", 2e-3, 1e-4, 1e-2, log=True, help="peak learning rate (QLoRA's)")
    hyperparameters = QLora.hyperparameters  # LoRA's, plus double_quant
