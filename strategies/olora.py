"""OLoRA (Büyükakyüz, 2024, "OLoRA: Orthonormal Low-Rank Adaptation of Large Language Models",
arXiv:2406.01775) through peft (``init_lora_weights="olora"``).

Each adapted weight is QR-decomposed; B starts as the first r columns of Q (orthonormal) and A as the
first r rows of R, and the frozen base weight becomes W − scale·BA, so training starts from exactly the
pretrained function with an orthonormal basis for the update. The paper reports faster convergence than
LoRA. A and B start as part of the pretrained weight, so they get no weight decay; as for PiSSA,
lora_alpha = r (scale 1) and LoRA's learning rate, which the head shares (on SST-2 with 2,000 examples
and one epoch, 5e-4 reached 59.9 % dev accuracy, 2e-3 78.1 %). Like PiSSA it changes the base weights at initialisation: "frozen" means frozen at the post-init
values, and a run's artifact (A, B, head) reloads correctly because rebuilding through this strategy
repeats the same deterministic QR on the same pretrained weights.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.lora import Lora, lora_hyperparameters


class Olora(Lora):
    name = "olora"
    paper = r"""@article{buyukakyuz2024olora,
  author = {B{\"u}y{\"u}kaky{\"u}z, Kerim},
  title = {{OLoRA}: Orthonormal Low-Rank Adaptation of Large Language Models},
  journal = {arXiv preprint arXiv:2406.01775},
  year = {2024}
}"""
    label = "OLoRA"
    groups = ("lora-family",)
    family = "reparameterised"
    summary = "LoRA initialised from a QR decomposition of each weight; the base keeps the residual (peft)"
    learning_rate = Hyperparameter("lr", 2e-3, 1e-4, 1e-2, log=True, help="peak learning rate")
    hyperparameters = lora_hyperparameters(alpha_ratio=1.0, dropout=0.0)

    keep_from_decay = ("lora_A", "lora_B")  # they start as part of the pretrained weight
    base_weights = "residual"  # W - BA: saved converted to a plain LoRA on the untouched base
    takes_conv1d = False  # peft's QR initialisation ignores fan_in_fan_out (a shape error on GPT-2)

    def lora_options(self):
        return {"init_lora_weights": "olora"}
