"""DoRA (Liu et al., 2024, "DoRA: Weight-Decomposed Low-Rank Adaptation", ICML 2024, arXiv:2402.09353)
through peft (``LoraConfig(use_dora=True)``).

Each adapted weight is split into a magnitude (one trainable scalar per output row, initialised to the
row norms of the pretrained weight) and a direction, which LoRA updates: W' = m · (W + BA) / ‖W + BA‖.
The paper reports it closing part of the gap between LoRA and full fine-tuning, most at low ranks, for
the cost of the magnitude vector (one value per output feature) and a slower forward pass (the norm of
W + BA is recomputed every step). Defaults are LoRA's (the paper reuses LoRA's configurations).
The magnitudes start at the pretrained weight's row norms, so they get no weight decay (decay would
shrink the pretrained weight, not the update).

"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.lora import Lora


class Dora(Lora):
    name = "dora"
    paper = """@inproceedings{liu2024dora,
  author = {Liu, Shih-Yang and Wang, Chien-Yi and Yin, Hongxu and Molchanov, Pavlo and Wang, Yu-Chiang Frank and
    Cheng, Kwang-Ting and Chen, Min-Hung},
  title = {{DoRA}: Weight-Decomposed Low-Rank Adaptation},
  booktitle = {International Conference on Machine Learning (ICML)},
  year = {2024}
}"""
    label = "DoRA"
    groups = ("lora-family",)
    family = "reparameterised"
    summary = "weight-decomposed LoRA: a trained magnitude per output row, LoRA on the direction (peft)"
    learning_rate = Hyperparameter("lr", 2e-3, 1e-4, 1e-2, log=True, help="peak learning rate (LoRA's)")
    hyperparameters = Lora.hyperparameters  # rank, alpha_ratio, dropout, targets: the paper keeps LoRA's
    keep_from_decay = ("lora_magnitude_vector",)  # the pretrained weight's row norms

    def lora_options(self):
        return {"use_dora": True}
