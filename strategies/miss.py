"""MiSS (2024, "MiSS: Balancing LoRA Performance and Efficiency with Simple Shard Sharing",
arXiv:2409.15371; formerly Bone) through peft (``MissConfig``).

A single trained matrix per adapted weight instead of LoRA's two: a ``rank`` × out shard, starting at zero (the
pretrained function), is shared by every rank-wide slice of the input (the input is summed shard-wise and
multiplied by it), so the update costs one small matmul and its parameters equal a LoRA whose rank makes
rank × out = r_LoRA × (in + out). The default rank 16 matches peftbench's LoRA (rank 8) in parameters on a
square weight.

Learning rate: peft's method comparison trains it at its LoRA rate, and so does the default here. The rank must
not exceed any adapted layer's input width (the ranges keep it at most 64, every tested model's smallest).
``nn.Linear`` layers only.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import DROPOUT, TARGETS_PARAMETER, PeftTuner


class Miss(PeftTuner):
    name = "miss"
    paper = """@inproceedings{kang2026miss,
  author = {Kang, Jiale and Yin, Qingyu},
  title = {{MiSS}: Revisiting the Trade-off in {LoRA} with an Efficient Shard-Sharing Structure},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2026}
}"""
    label = "MiSS"
    groups = ("lora-family",)
    summary = "one trained shard per weight, shared by every slice of the input: LoRA's budget, one matrix (peft)"
    learning_rate = Hyperparameter("lr", 2e-3, 2e-4, 2e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("rank", 16, 2, 64, log=True, help="rows of the shared shard"),
        DROPOUT,
        TARGETS_PARAMETER,
    )

    def peft_config(self, encoder):
        from peft import MissConfig

        return MissConfig(r=self.params["rank"], miss_dropout=self.params["dropout"], target_modules=self.targets(encoder))
