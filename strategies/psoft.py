"""PSOFT (2025, "Efficient Orthogonal Fine-Tuning with Principal Subspace Adaptation", arXiv:2505.11235, ICLR
2026) through peft (``PsoftConfig``).

Orthogonal fine-tuning confined to each weight's principal subspace: the top-``rank`` singular directions of the
pretrained weight give frozen A (row-orthogonal) and B, and an r × r orthogonal matrix R (Cayley
parameterisation) rotates within that subspace, ΔW = B (R − I) A, so the geometry of the pretrained weight's
columns is kept, as in OFT, at a fraction of OFT's cost. Two trained scaling vectors on either side of R (peft's
default, the paper's "tunable vectors") add some freedom. R starts at I and the vectors at 1: training starts from
the pretrained function, and the vectors get no weight decay. The base weights are not changed: A and B are
computed once from them (exact SVD) and kept beside them.

Defaults are peft's (rank 32, alpha = rank); learning rate: peft's docs recommend LoRA-like rates (1e-4 to
5e-3), its example 5× its LoRA rate; the default here is 2.5× peftbench's. ``nn.Linear`` layers only; the rank
must not exceed any adapted layer's width (the range stops at 64, the smallest of the real families; a narrower
layer is refused in one line).
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import TARGETS_PARAMETER, PeftTuner, check_rank_fits


class Psoft(PeftTuner):
    name = "psoft"
    paper = """@inproceedings{wu2026psoft,
  author = {Wu, Fei and Hu, Jia and Min, Geyong and Wang, Shiqiang},
  title = {Efficient Orthogonal Fine-Tuning with Principal Subspace Adaptation},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2026}
}"""
    label = "PSOFT"
    groups = ("peft-2025",)
    summary = "orthogonal rotation inside each weight's top singular subspace, with scaling vectors (peft)"
    learning_rate = Hyperparameter("lr", 5e-3, 5e-4, 3e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("rank", 32, 4, 64, log=True, help="dimension of the principal subspace (R is rank × rank)"),
        Hyperparameter("alpha_ratio", 1.0, 0.25, 4.0, help="psoft_alpha = alpha_ratio × rank (scale alpha / rank)"),
        Hyperparameter("orthogonal", True, choices=(True, False), help="keep R orthogonal (Cayley); False: a free R"),
        TARGETS_PARAMETER,
    )
    undecayed = ("vector_a", "vector_b")  # the scaling vectors start at 1

    def peft_config(self, encoder):
        from peft import PsoftConfig

        targets = self.targets(encoder)
        check_rank_fits(self.name, encoder, targets, self.params["rank"])
        return PsoftConfig(r=self.params["rank"], psoft_alpha=self.params["alpha_ratio"] * self.params["rank"],
                           psoft_orth=self.params["orthogonal"], random_seed=0, target_modules=targets)
