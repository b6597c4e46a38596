"""HiRA (Huang et al., 2025, "HiRA: Parameter-Efficient Hadamard High-Rank Adaptation for Large Language
Models", ICLR 2025, openreview TwJrTz9cRS) through peft (``HiraConfig``).

The low-rank product modulates the pretrained weight entry by entry instead of being added to it:
ΔW = W₀ ⊙ (BA). The Hadamard product with a full-rank W₀ makes the update high-rank from LoRA's parameter
count. B starts at zero (the pretrained function).

Since every entry of ΔW is a pretrained weight (typically |w| ≪ 1) times an entry of BA, the update moves far
slower than LoRA's at the same learning rate: peft's method comparison trains it at 45× its LoRA rate after
tuning (4.5e-3 on a 3B decoder); the default here is 5× peftbench's LoRA rate, the range reaches 25×.
``nn.Linear`` layers only.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import DROPOUT, TARGETS_PARAMETER, PeftTuner


class Hira(PeftTuner):
    name = "hira"
    paper = """@inproceedings{huang2025hira,
  author = {Huang, Qiushi and Ko, Tom and Zhuang, Zhan and Tang, Lilian and Zhang, Yu},
  title = {{HiRA}: Parameter-Efficient Hadamard High-Rank Adaptation for Large Language Models},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2025}
}"""
    label = "HiRA"
    groups = ("lora-family", "peft-2025")
    summary = "low-rank product modulating the pretrained weight entry-wise, W₀ ⊙ BA: high-rank update (peft)"
    learning_rate = Hyperparameter("lr", 1e-2, 1e-3, 5e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("rank", 8, 1, 64, log=True, help="rank of B and A"),
        DROPOUT,
        TARGETS_PARAMETER,
    )

    def peft_config(self, encoder):
        from peft import HiraConfig

        return HiraConfig(r=self.params["rank"], hira_dropout=self.params["dropout"], target_modules=self.targets(encoder))
