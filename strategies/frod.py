"""FRoD (2026, "Full-Rank Efficient Fine-Tuning with Rotational Degrees", AAAI 2026,
doi:10.1609/aaai.v40i31.39813) through peft (``FrodConfig``).

The adapted layers of one kind (all queries, all values, ...) are decomposed jointly once: a basis V shared by the
kind and, per layer, U and a diagonal λ_l such that W ≈ U diag(λ_l) Vᵀ. Training moves λ_l (full-rank: every
direction of the basis) and a sparse set of off-diagonal "rotational" coefficients λ_s (``sparse_rate`` of
them, at positions drawn from a fixed key, starting at zero), and the layer computes the reconstructed weight in
place of the pretrained one: training starts from it (up to float rounding). λ_l starts as the pretrained
weight's coordinates, so it gets no weight decay. The base weights are not changed.

Adapted to a classifier as peft's BERT/SST-2 example does: three learning rates, ``lr`` for λ_l (2e-2 there),
``sparse_lr_ratio`` × ``lr`` for λ_s (2e-3) and ``head_lr`` for the head (1e-2); ``sparse_rate`` 0.02 is the
example's. ``nn.Linear`` layers only.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import TARGETS_PARAMETER, PeftTuner, head_lr


class Frod(PeftTuner):
    name = "frod"
    paper = """@inproceedings{wan2026frod,
  author = {Wan, Guoan and Chen, Tianyu and Feng, Fangzheng and Zhou, Haoyi and Xu, Runhua},
  title = {{FRoD}: Full-Rank Efficient Fine-Tuning with Rotational Degrees for Fast Convergence},
  booktitle = {Proceedings of the AAAI Conference on Artificial Intelligence},
  year = {2026},
  doi = {10.1609/aaai.v40i31.39813}
}"""
    label = "FRoD"
    groups = ("peft-2025",)
    summary = "a basis shared per layer kind; trained diagonal and sparse rotational coefficients, full-rank (peft)"
    learning_rate = Hyperparameter("lr", 2e-2, 2e-3, 1e-1, log=True, help="peak learning rate of the diagonal λ_l")
    hyperparameters = (
        Hyperparameter("sparse_rate", 0.02, 0.005, 0.1, log=True, help="fraction of off-diagonal coefficients trained"),
        Hyperparameter("sparse_lr_ratio", 0.1, 0.01, 1.0, log=True, help="learning rate of the sparse λ_s / lr"),
        head_lr(1e-2, 1e-3, 5e-2),
        TARGETS_PARAMETER,
    )
    rate_ratios = {"frod_lambda_s_values": "sparse_lr_ratio"}
    undecayed = ("frod_lambda_l",)  # the pretrained weight's coordinates in the shared basis

    def peft_config(self, encoder):
        from peft import FrodConfig

        return FrodConfig(sparse_rate=self.params["sparse_rate"], projection_prng_key=0, progressbar=False,
                          target_modules=self.targets(encoder))
