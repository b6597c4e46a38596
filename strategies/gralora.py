"""GraLoRA (Jung et al., 2025, "GraLoRA: Granular Low-Rank Adaptation for Parameter-Efficient Fine-Tuning",
arXiv:2505.20355) through peft (``GraloraConfig``).

Each adapted weight is cut into a k × k grid of blocks, and each block gets its own LoRA pair of rank r / k: the
same parameter count as one rank-r LoRA, but an update of rank up to k·r, and an outlier activation in one input
block only disturbs the gradients of its own blocks. B starts at zero (the pretrained function); scale is
alpha / r as in LoRA. k must divide the rank and the input and output width of every adapted layer; the choices
(k ∈ {2, 4}, rank a multiple of 4) divide the widths of the models peftbench tests (multiples of 64).

peft's docs recommend k = 2 up to rank 32 and k = 4 above. Learning rate: peft's method comparison trains it at
2× its LoRA rate, and so does the default here. Linear and GPT-2 Conv1D layers.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import DROPOUT, TARGETS_PARAMETER, PeftTuner, check_divides


class Gralora(PeftTuner):
    name = "gralora"
    paper = """@article{jung2025gralora,
  author = {Jung, Yeonjoon and Ahn, Daehyun and Kim, Hyungjun and Kim, Taesu and Park, Eunhyeok},
  title = {{GraLoRA}: Granular Low-Rank Adaptation for Parameter-Efficient Fine-Tuning},
  journal = {arXiv preprint arXiv:2505.20355},
  year = {2025}
}"""
    label = "GraLoRA"
    groups = ("lora-family", "peft-2025")
    summary = "a k × k grid of small LoRA blocks per weight: LoRA's parameters, k× its rank (peft)"
    takes_conv1d = True
    learning_rate = Hyperparameter("lr", 4e-3, 2e-4, 2e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("rank", 16, choices=(4, 8, 16, 32, 64), help="total rank r (LoRA's parameter count)"),
        Hyperparameter("k", 2, choices=(2, 4), help="grid size: k × k blocks, each of rank r / k"),
        Hyperparameter("alpha_ratio", 2.0, 0.5, 4.0, help="alpha = alpha_ratio × rank (scale alpha / rank)"),
        DROPOUT,
        TARGETS_PARAMETER,
    )

    def peft_config(self, encoder):
        from peft import GraloraConfig

        placement = self.placement(encoder)
        check_divides(self.name, encoder, placement["target_modules"], self.params["k"], "k")
        return GraloraConfig(r=self.params["rank"], gralora_k=self.params["k"], hybrid_r=0,
                             alpha=self.params["alpha_ratio"] * self.params["rank"],
                             gralora_dropout=self.params["dropout"], **placement)
