"""PEANuT (2024, "PEANuT: Parameter-Efficient Adaptation with Weight-aware Neural Tweakers",
arXiv:2410.01870) through peft (``PeanutConfig``).

The update is computed from the pretrained weight by a small trained network instead of being free:
ΔW = scaling · f(W₀), f being an input projection A (over W₀'s output dimension), ``depth`` residual
encoder/decoder layers with a non-linearity, and an output projection B that starts at zero (the pretrained
function). At depth 0 it costs a rank-r LoRA's parameters; the non-linear, weight-aware map is what the paper
credits for beating LoRA at equal budgets.

Defaults: LoRA's rank (8) and learning rate (peft's example trains it at its LoRA rate), peft's scaling 1 and
ReLU. ``nn.Linear`` layers only.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import TARGETS_PARAMETER, PeftTuner


class Peanut(PeftTuner):
    name = "peanut"
    paper = """@article{zhong2024peanut,
  author = {Zhong, Yibo and Jiang, Haoxiang and Li, Lincan and Nakada, Ryumei and Liu, Tianci and Zhang, Linjun and
    Yao, Huaxiu and Wang, Haoyu},
  title = {{PEANuT}: Parameter-Efficient Adaptation with Weight-aware Neural Tweakers},
  journal = {arXiv preprint arXiv:2410.01870},
  year = {2024}
}"""
    label = "PEANuT"
    groups = ("lora-family",)
    summary = "the update is a small trained network of the pretrained weight itself, ΔW = f(W₀) (peft)"
    learning_rate = Hyperparameter("lr", 2e-3, 2e-4, 2e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("rank", 8, 1, 64, log=True, help="hidden width of the tweaker network"),
        Hyperparameter("depth", 0, 0, 2, help="residual encoder/decoder layers between A and B"),
        Hyperparameter("scaling", 1.0, 0.1, 32.0, log=True, help="multiplier of the update"),
        TARGETS_PARAMETER,
    )

    def peft_config(self, encoder):
        from peft import PeanutConfig

        return PeanutConfig(r=self.params["rank"], depth=self.params["depth"], scaling=self.params["scaling"],
                            act_fn="relu", target_modules=self.targets(encoder))
