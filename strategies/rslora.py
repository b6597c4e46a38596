"""rsLoRA (Kalajdzievski, 2023, "A Rank Stabilization Scaling Factor for Fine-Tuning with LoRA",
arXiv:2312.03732) through peft (``LoraConfig(use_rslora=True)``).

LoRA scales its update BA by alpha / r, which shrinks the update, and its gradients, as the rank grows,
so higher ranks learn slower and stop paying off. rsLoRA scales by alpha / sqrt(r), which the paper shows
keeps activations and gradients of order one at every rank, so a larger rank buys a better fit. Hence its
own hyperparameters: ``alpha`` is an absolute value (not LoRA's ``alpha_ratio`` × rank, which would make
the scale grow with sqrt(rank)), and the rank's default and range are larger than LoRA's.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.lora import Lora


class RsLora(Lora):
    name = "rslora"
    paper = """@article{kalajdzievski2023rank,
  author = {Kalajdzievski, Damjan},
  title = {A Rank Stabilization Scaling Factor for Fine-Tuning with {LoRA}},
  journal = {arXiv preprint arXiv:2312.03732},
  year = {2023}
}"""
    label = "rsLoRA"
    groups = ("lora-family",)
    family = "reparameterised"
    summary = "LoRA scaled by alpha/sqrt(rank) instead of alpha/rank, so higher ranks keep learning (peft)"
    learning_rate = Hyperparameter("lr", 2e-3, 1e-4, 1e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("rank", 16, 1, 256, log=True, help="LoRA rank r"),
        Hyperparameter("alpha", 8.0, 1.0, 64.0, log=True, help="lora_alpha; the update is scaled by alpha / sqrt(rank)"),
        *(h for h in Lora.hyperparameters if h.name in ("dropout", "targets")),
    )

    def lora_alpha(self):
        return self.params["alpha"]

    def lora_options(self):
        return {"use_rslora": True}
