"""GLoRA (Chavan et al., 2023, "One-for-All: Generalized LoRA for Parameter-Efficient Fine-tuning",
arXiv:2306.07967) through peft (``GloraConfig``).

One layer that generalises LoRA, (IA)³-style scaling and bias tuning: W' = W₀ + W₀ ⊙ A + B and
b' = b₀ + b₀ ⊙ D + E + W₀ C, each of A–E parameterised as a low-rank product (``lora``), a vector, a single
constant or nothing. Every path starts at zero (the pretrained function). The paper searches the
parameterisation per layer by evolution after training a supernet; here it is a searched hyperparameter for
the whole model (``paths_A_B``, ``paths_C``, ``paths_D_E``), peft's defaults (low-rank A, B and C, constant D
and E) as the defaults.

Learning rate: peft's example and method comparison train it at 3–5× their LoRA rate; the default here is
2.5× peftbench's. ``nn.Linear`` layers only.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import TARGETS_PARAMETER, PeftTuner


class Glora(PeftTuner):
    name = "glora"
    paper = """@article{chavan2023glora,
  author = {Chavan, Arnav and Liu, Zhuang and Gupta, Deepak and Xing, Eric and Shen, Zhiqiang},
  title = {One-for-All: Generalized {LoRA} for Parameter-Efficient Fine-tuning},
  journal = {arXiv preprint arXiv:2306.07967},
  year = {2023}
}"""
    label = "GLoRA"
    groups = ("lora-family",)
    summary = "generalised LoRA: low-rank, vector or scalar paths scale and shift each weight and bias (peft)"
    learning_rate = Hyperparameter("lr", 5e-3, 5e-4, 3e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("rank", 8, 1, 32, log=True, help="rank of the paths parameterised as lora"),
        Hyperparameter("paths_A_B", "lora", choices=("lora", "vector", "constant"),
                       help="the weight's scaling (A) and shift (B) paths"),
        Hyperparameter("paths_C", "lora", choices=("lora", "vector", "none"), help="the weight-to-bias path C"),
        Hyperparameter("paths_D_E", "constant", choices=("vector", "constant", "none"),
                       help="the bias's scaling (D) and shift (E) paths"),
        TARGETS_PARAMETER,
    )

    def peft_config(self, encoder):
        from peft import GloraConfig

        return GloraConfig(r=self.params["rank"], config_A_B=self.params["paths_A_B"], config_C=self.params["paths_C"],
                           config_D_E=self.params["paths_D_E"], target_modules=self.targets(encoder))
