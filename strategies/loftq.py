"""LoftQ (Li et al., 2024, "LoftQ: LoRA-Fine-Tuning-Aware Quantization for Large Language Models", ICLR 2024,
arXiv:2310.08659), peft's ``init_lora_weights="loftq"`` computed on any device.

QLoRA starts LoRA at zero on a quantised weight Q(W), so training starts from Q(W)'s function, not W's. LoftQ
chooses the quantised weight and LoRA's start together: alternately, Q = NF4(W − BA) and BA = the rank-r SVD of
W − Q, ``iterations`` times, so Q + BA approximates W better than Q alone and training starts close to the
pretrained function. The frozen weight becomes the dequantised Q(W), held in full precision as peft's own LoftQ
does (training then computes what it would on the 4-bit weights; ``qlora`` is the strategy that also saves the
memory), so the base weights are rewritten: a run reloads exactly (rebuilding repeats the deterministic
quantisation and SVD) and exports merged.

peft 0.21's ``loftq_init`` runs on CUDA or XPU only (it moves each weight there to quantise it, and fails on a
CPU-only machine); the same computation is done here with bitsandbytes' NF4 quantiser on the weight's own device
(blocks of 64, no double quantisation, as peft's ``Params4bit`` call). One difference: peft sets A and B to the
SVD factors without LoRA's scale alpha / r, which is right only at alpha = r; B is divided by the scale here, so
Q + scale·BA is the approximation at any alpha. A and B start as part of the pretrained weight, so they get no
weight decay. LoRA's learning rate and other defaults; alpha = r as in the paper.
"""

from __future__ import annotations

import torch

from peftbench.strategy import Hyperparameter
from strategies.lora import Lora, lora_hyperparameters


def nf4_round_trip(weight: torch.Tensor) -> torch.Tensor:
    """``weight`` quantised to 4-bit NF4 in blocks of 64 and back, as bitsandbytes' QLoRA layers compute with it."""
    import bitsandbytes.functional as bnb

    packed, state = bnb.quantize_4bit(weight.float().contiguous(), blocksize=64, quant_type="nf4",
                                      compress_statistics=False)
    return bnb.dequantize_4bit(packed, state).to(weight.dtype)


@torch.no_grad()
def loftq_factors(weight: torch.Tensor, rank: int, iterations: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(Q, B, A): the dequantised NF4 weight and the rank-``rank`` factors of W − Q, alternated ``iterations``
    times (peft's ``loftq_init``)."""
    target = weight.float()
    residual = target
    for _ in range(iterations):
        quantised = nf4_round_trip(residual)
        left, singular, right = torch.linalg.svd(target - quantised, full_matrices=False)
        root = singular[:rank].sqrt()
        b, a = left[:, :rank] * root, root[:, None] * right[:rank]
        residual = target - b @ a
    return quantised.to(weight.dtype), b, a


class LoftQ(Lora):
    name = "loftq"
    paper = """@inproceedings{li2024loftq,
  author = {Li, Yixiao and Yu, Yifan and Liang, Chen and Karampatziakis, Nikos and He, Pengcheng and Chen, Weizhu and
    Zhao, Tuo},
  title = {{LoftQ}: {LoRA}-Fine-Tuning-Aware Quantization for Large Language Models},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2024}
}"""
    label = "LoftQ"
    family = "quantised"
    groups = ("lora-family",)
    summary = "LoRA and an NF4-quantised base initialised together so that Q + BA approximates W"
    base_weights = "rewritten"  # W becomes its dequantised 4-bit quantisation
    requires = ("bitsandbytes",)  # its NF4 quantiser
    takes_conv1d = False  # the weight is quantised as (out, in); GPT-2's Conv1D stores it transposed
    hyperparameters = lora_hyperparameters(alpha_ratio=1.0, dropout=0.0) + (
        Hyperparameter("iterations", 1, 1, 5, help="alternations of quantisation and SVD (peft's loftq_iter)"),
    )
    keep_from_decay = ("lora_A", "lora_B")  # they start as the SVD of the quantisation error

    def prepare(self, model, total_steps):
        super().prepare(model, total_steps)
        for module in model.encoder.modules():
            if hasattr(module, "lora_A") and "default" in module.lora_A:
                base = module.get_base_layer()
                quantised, b, a = loftq_factors(base.weight, self.params["rank"], self.params["iterations"])
                base.weight.data = quantised
                module.lora_A["default"].weight.data = a.to(base.weight.dtype)
                module.lora_B["default"].weight.data = (b / module.scaling["default"]).to(base.weight.dtype)
