"""PiSSA (Meng, Wang & Zhang, 2024, "PiSSA: Principal Singular Values and Singular Vectors Adaptation of
Large Language Models", NeurIPS 2024, arXiv:2404.02948) through peft (``init_lora_weights="pissa"``).

LoRA's A and B start from the r principal singular vectors and values of each adapted weight
(B = U_r S_r^½, A = S_r^½ V_rᵀ) and the frozen base weight becomes the residual W − BA, so the model
computes exactly the pretrained function at the start but trains the directions that matter most,
where LoRA trains a random (A) and a zero (B) matrix. The paper reports faster convergence and better
results than LoRA at the same rank; it uses lora_alpha = r (scale 1) and no dropout, our defaults here.
A and B carry the weight's largest components, so they get no weight decay (it would shrink the
pretrained weight, not the update). The paper's learning rates are lower than LoRA's, but ours is shared
with the freshly initialised head: on SST-2 (2,000 examples, one epoch) 5e-4 reached 60.6 % dev accuracy
and LoRA's 2e-3 78.9 %, so the default is LoRA's.

The base weights are changed at initialisation, so "frozen" here means frozen at their post-init
(residual) values. peft's docs suggest ``save_pretrained(path_initial_model_for_weight_conversion=…)`` to
turn the result into a plain LoRA adapter on the untouched model; we need no conversion because a run's
artifact holds only the trained A, B and head, and reloading rebuilds the model through this strategy:
the same pretrained weights, the same (seeded) SVD, the same residual, bit for bit.
``svd_iters`` > 0 uses peft's fast randomised SVD (``pissa_niter_N``), worth it only on large models.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.lora import Lora, lora_hyperparameters


class Pissa(Lora):
    name = "pissa"
    paper = """@inproceedings{meng2024pissa,
  author = {Meng, Fanxu and Wang, Zhaohui and Zhang, Muhan},
  title = {{PiSSA}: Principal Singular Values and Singular Vectors Adaptation of Large Language Models},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2024}
}"""
    label = "PiSSA"
    groups = ("lora-family",)
    family = "reparameterised"
    summary = "LoRA initialised from each weight's principal singular vectors; the base keeps the residual (peft)"
    learning_rate = Hyperparameter("lr", 2e-3, 1e-4, 1e-2, log=True, help="peak learning rate")
    hyperparameters = lora_hyperparameters(alpha_ratio=1.0, dropout=0.0) + (
        Hyperparameter("svd_iters", 0, 0, 16, help="0: exact SVD; N > 0: fast randomised SVD, N subspace iterations"),
    )

    keep_from_decay = ("lora_A", "lora_B")  # they start as part of the pretrained weight
    base_weights = "residual"  # W - BA: saved converted to a plain LoRA on the untouched base

    def lora_options(self):
        iterations = self.params["svd_iters"]
        return {"init_lora_weights": f"pissa_niter_{iterations}" if iterations else "pissa"}
