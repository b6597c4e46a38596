"""LoRA-FA (Zhang et al., 2023, "LoRA-FA: Memory-efficient Low-rank Adaptation for Large Language Models
Fine-tuning", arXiv:2308.03303) through peft's optimiser (``peft.optimizers.create_lorafa_optimizer``).

LoRA with A frozen at its random initialisation and only B trained, so the activations A needs for its gradient
need not be kept (the memory the paper saves). peft's LoRA-FA optimiser goes further than freezing: B's gradient
is projected to the one that best approximates full fine-tuning's update within A's row space,
g_B = (1/s²) g_B (AAᵀ)⁻¹ (s the LoRA scale), before an AdamW step, so B moves as full fine-tuning would through a
fixed A. A is frozen when the model is built (so the trainable set is B and the head from the start). peft's
optimiser covers the encoder's parameters; our head, outside the peft model, joins it as a plain AdamW group at
the base rate, with the core's weight-decay rules.

LoRA's defaults and learning rate (peft's docs: LoRA-FA uses the same hyperparameters as AdamW in LoRA tuning).
Half the matrices train, and on SST-2 (the quick preset's 2,000 examples, one epoch) a higher rate paid: dev
accuracy 79.5 % at LoRA's 2e-3, 83.0 % at 5e-3; the default stays the paper's, the search reaches 1e-2.
"""

from __future__ import annotations

from peftbench.strategy import decay_groups, trainable_named_parameters
from strategies.lora import Lora


class LoraFA(Lora):
    name = "lorafa"
    paper = """@article{zhang2023lorafa,
  author = {Zhang, Longteng and Zhang, Lin and Shi, Shaohuai and Chu, Xiaowen and Li, Bo},
  title = {{LoRA-FA}: Memory-efficient Low-rank Adaptation for Large Language Models Fine-tuning},
  journal = {arXiv preprint arXiv:2308.03303},
  year = {2023}
}"""
    label = "LoRA-FA"
    groups = ("lora-family",)
    summary = "LoRA with A frozen; B trained by peft's LoRA-FA optimiser (projected gradients)"
    hyperparameters = Lora.hyperparameters

    def prepare(self, model, total_steps):
        super().prepare(model, total_steps)
        for name, parameter in model.encoder.named_parameters():
            if ".lora_A." in name:
                parameter.requires_grad = False

    def make_optimizer(self, model, lr, weight_decay, fused):
        from peft.optimizers import create_lorafa_optimizer

        optimizer = create_lorafa_optimizer(model.encoder, r=self.params["rank"], lora_alpha=self.lora_alpha(), lr=lr,
                                            weight_decay=weight_decay)
        outside = [(name, p) for name, p in trainable_named_parameters(model) if not name.startswith("encoder.")]
        for group in decay_groups(outside, lr, weight_decay):
            names = [name for name, p in outside if any(p is q for q in group["params"])]
            optimizer.add_param_group({**group, "names": names, "scaling_factors": [None] * len(names)})
        return optimizer
