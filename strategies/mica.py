"""MiCA (2026, "Minor Component Adaptation", arXiv:2604.01694) through peft (``init_lora_weights="mica"``).

LoRA whose B is fixed to the weight's minor directions: each adapted weight is SVD-decomposed once, B is set to
the ``rank`` left singular vectors with the *smallest* singular values and frozen, and only A trains, from zero
(so training starts from the pretrained function and the base weights stay untouched). Where PiSSA adapts the
directions a weight uses most, MiCA adapts those it barely uses, which the paper argues interferes least with what
the model already knows, at half LoRA's trained parameters.

LoRA's defaults and learning rate: B is orthonormal, so the update's scale per unit of A is LoRA's own. Half the
matrices train, and on SST-2 (the quick preset's 2,000 examples, one epoch) a higher rate paid: dev accuracy
79.9 % at LoRA's 2e-3, 82.7 % at 5e-3; the default stays LoRA's, the search reaches 1e-2.
"""

from __future__ import annotations

from strategies.lora import Lora


class Mica(Lora):
    name = "mica"
    paper = r"""@article{rudiger2026mica,
  author = {R{\"u}diger, Sten and Raschka, Sebastian},
  title = {{MiCA} Learns More Knowledge Than {LoRA} and Full Fine-Tuning},
  journal = {arXiv preprint arXiv:2604.01694},
  year = {2026}
}"""
    label = "MiCA"
    groups = ("lora-family", "peft-2025")
    summary = "LoRA with B frozen on each weight's minor singular directions; only A trains (peft)"
    hyperparameters = Lora.hyperparameters

    def lora_options(self):
        return {"init_lora_weights": "mica"}
