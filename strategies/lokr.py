"""LoKr (Yeh et al., 2024, "Navigating Text-To-Image Customization: From LyCORIS Fine-Tuning to Model
Evaluation", ICLR; the LyCORIS LoKr module, via peft): the update of a frozen weight is a Kronecker product
``ΔW = W1 ⊗ W2`` of a small full matrix and a (low-rank, when ``rank`` is below half its size) larger one.
Each layer's width is factorised (384 = 16 × 24) near its square root, or around ``factor``.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import ALPHA_RATIO, MODULE_DROPOUT, RANK_DROPOUT, TARGETS_PARAMETER, PeftTuner


class LoKr(PeftTuner):
    name = "lokr"
    paper = """@article{yeh2023lycoris,
  author = {Yeh, Shih-Ying and Hsieh, Yu-Guan and Gao, Zhidong and Yang, Bernard B. W. and Oh, Giyeong and
    Gong, Yanmin},
  title = {Navigating Text-To-Image Customization: From {LyCORIS} Fine-Tuning to Model Evaluation},
  journal = {arXiv preprint arXiv:2309.14859},
  year = {2023}
}"""
    summary = "Kronecker-product updates (LyCORIS LoKr) on attention (or all) linear layers, via peft"
    learning_rate = Hyperparameter("lr", 1e-2, 1e-3, 5e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("rank", 8, 1, 64, log=True, help="rank of the larger Kronecker factor (full if rank >= half its size)"),
        ALPHA_RATIO,
        Hyperparameter("factor", -1, choices=(-1, 2, 4, 8, 16, 32),
                       help="size of the smaller Kronecker factor; -1: near the square root of the width"),
        Hyperparameter("decompose_both", False, choices=(False, True), help="also make the smaller factor low-rank"),
        RANK_DROPOUT,
        MODULE_DROPOUT,
        TARGETS_PARAMETER,
    )

    def peft_config(self, encoder):
        from peft import LoKrConfig

        return LoKrConfig(r=self.params["rank"], alpha=self.params["alpha_ratio"] * self.params["rank"],
                          decompose_factor=self.params["factor"], decompose_both=self.params["decompose_both"],
                          rank_dropout=self.params["rank_dropout"], module_dropout=self.params["module_dropout"],
                          target_modules=self.targets(encoder))
