"""LoRA+ (Hayou, Ghosh & Yu, 2024, "LoRA+: Efficient Low Rank Adaptation of Large Models", ICML 2024,
arXiv:2402.12354): LoRA whose B matrices learn ``lr_ratio`` times faster than its A matrices.

The paper shows that with one learning rate for A and B, LoRA's feature learning is inefficient in wide
models, and that setting η_B = λ·η_A (λ ≈ 2⁴ in its GLUE experiments) speeds up training and improves
results, at no cost in parameters or compute. The adapters are LoRA's (same modules, same initialisation);
only the optimiser differs, built by peft's ``create_loraplus_optimizer`` over the peft-wrapped encoder
(A at ``lr``, B at ``lr × lr_ratio``), the same ``torch.optim.AdamW`` the core uses (fused where the core
fuses). Our head is outside the peft model, so it is added at the base ``lr``, with the core's weight-decay
rules: peft's function would have put the head's bias (a 1-d tensor) with the B matrices.
"""

from __future__ import annotations

import torch

from peftbench.strategy import Hyperparameter, decay_groups, trainable_named_parameters
from strategies.lora import Lora


class LoraPlus(Lora):
    name = "loraplus"
    paper = """@inproceedings{hayou2024loraplus,
  author = {Hayou, Soufiane and Ghosh, Nikhil and Yu, Bin},
  title = {{LoRA+}: Efficient Low Rank Adaptation of Large Models},
  booktitle = {International Conference on Machine Learning (ICML)},
  year = {2024}
}"""
    label = "LoRA+"
    groups = ("lora-family",)
    family = "reparameterised"
    summary = "LoRA with B matrices at a higher learning rate than A (peft's LoRA+ optimiser)"
    learning_rate = Hyperparameter("lr", 1e-3, 5e-5, 5e-3, log=True, help="peak learning rate of A and of the head")
    hyperparameters = Lora.hyperparameters + (
        Hyperparameter("lr_ratio", 16.0, 1.0, 64.0, log=True, help="learning rate of B / learning rate of A"),
    )

    def make_optimizer(self, model, lr, weight_decay, fused):
        from peft.optimizers import create_loraplus_optimizer

        optimizer = create_loraplus_optimizer(model.encoder, torch.optim.AdamW, lr=lr, fused=fused,
                                              loraplus_lr_ratio=self.params["lr_ratio"],
                                              loraplus_weight_decay=weight_decay)
        outside = [(name, p) for name, p in trainable_named_parameters(model) if not name.startswith("encoder.")]
        for group in decay_groups(outside, lr, weight_decay):
            optimizer.add_param_group(group)
        return optimizer
