"""AdaLoRA (Zhang et al., 2023, "Adaptive Budget Allocation for Parameter-Efficient Fine-Tuning",
ICLR 2023, arXiv:2303.10512) through peft (``AdaLoraConfig``).

Each adapted weight gets an SVD-shaped update P·diag(E)·Q with ``init_rank`` triplets; after a warm-up of
``tinit_ratio`` of the run, the triplets least important to the loss (a smoothed |weight × gradient|
score) are masked step by step (every ``delta_t`` steps, on a cubic schedule) until ``rank`` remain per
weight on average, so the budget goes to the layers that need it; the last ``tfinal_ratio`` of the run
trains the final allocation. That needs peft's ``update_and_allocate`` after every optimiser step
(:meth:`Adalora.after_optimizer_step`) and the run's step count (``prepare``'s ``total_steps``).

Two things the core loop does not give AdaLoRA on its own, handled here:

- **Orthogonality regulariser.** The paper adds γ·(‖PᵀP − I‖_F + ‖QQᵀ − I‖_F), averaged over matrices, to
  the loss, so P and Q stay near-orthogonal and E behaves like singular values, which is what makes
  pruning a triplet a clean rank-1 cut. peft adds it inside ``AdaLoraModel.forward``, but only when the
  model returns a ``loss``, i.e. when labels are passed to a peft task model; our encoder is called
  without labels and the core computes the loss from our head, so peft never adds it. Its gradient is
  added instead, exactly, by a hook on each P and Q after its gradient is accumulated
  (:func:`add_orthogonality_gradient`): the same update as adding the term to the loss, before clipping.
  The logged loss does not include the term.
- **Reloading.** Pruned triplets are masked by zeroing their entries of E (``lora_E``), a trained parameter
  saved with the run, and ``ranknum`` (the scale's denominator) stays ``init_rank`` (peft's resize to the
  final ``rank_pattern`` is not used during training), so rebuilding the model through this strategy
  and loading the saved tensors reproduces the trained function without the rank pattern. The flip side:
  the trainable-parameter count (and the artifact) covers all ``init_rank`` triplets, masked ones included.

Defaults follow the paper's GLUE setup scaled to short runs: all linear layers, target rank 8 from 12
(init = 1.5 × target), γ = 0.1, β1 = β2 = 0.85 (peft's), warm-up 10 % and final phase 30 % of the steps.
The learning rate is higher than LoRA's: E starts at zero, so P and Q only start learning once E has
grown (on SST-2 with 2,000 examples and one epoch: 73.6 % dev accuracy at 2e-3, 80.4 % at 5e-3; on the
attention projections alone 72.9 % at 2e-3).
"""

from __future__ import annotations

import math
from functools import partial

import torch

from peftbench.errors import UserError
from peftbench.strategy import Hyperparameter, Strategy
from strategies.lora import TARGETS, target_modules


def orthogonality_gradient(parameter: torch.nn.Parameter, weight: float, rows: bool) -> None:
    """Add ``weight`` × the gradient of ‖MMᵀ − I‖_F to ``parameter.grad``, M being the parameter (``rows``:
    its rows should be orthonormal, AdaLoRA's Q = ``lora_A``) or its transpose (P = ``lora_B``)."""
    with torch.no_grad():
        matrix = parameter if rows else parameter.T
        residual = matrix @ matrix.T - torch.eye(matrix.shape[0], dtype=matrix.dtype, device=matrix.device)
        norm = torch.linalg.matrix_norm(residual)
        if norm == 0:
            return
        gradient = 2 * residual @ matrix / norm
        parameter.grad.add_(gradient if rows else gradient.T, alpha=weight)


def add_orthogonality_gradient(encoder: torch.nn.Module, weight: float, average: bool = True) -> int:
    """Register :func:`orthogonality_gradient` on every trainable ``lora_A``/``lora_B`` of a peft encoder, averaged
    over them as peft averages AdaLoRA's loss term (``average``) or summed as it sums KaSA's. Returns how many
    matrices got it."""
    matrices = [(name, p) for name, p in encoder.named_parameters()
                if p.requires_grad and (".lora_A." in name or ".lora_B." in name)]
    if weight > 0:
        for name, parameter in matrices:
            hook = partial(orthogonality_gradient, weight=weight / len(matrices) if average else weight,
                           rows=".lora_A." in name)
            parameter.register_post_accumulate_grad_hook(hook)
    return len(matrices)


class Adalora(Strategy):
    name = "adalora"
    paper = """@inproceedings{zhang2023adalora,
  author = {Zhang, Qingru and Chen, Minshuo and Bukharin, Alexander and He, Pengcheng and Cheng, Yu and
    Chen, Weizhu and Zhao, Tuo},
  title = {Adaptive Budget Allocation for Parameter-Efficient Fine-Tuning},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2023}
}"""
    label = "AdaLoRA"
    groups = ("lora-family",)
    family = "reparameterised"
    summary = "SVD-shaped LoRA whose ranks are pruned during training to where they matter most (peft)"
    learning_rate = Hyperparameter("lr", 5e-3, 2e-4, 2e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("rank", 8, 1, 64, log=True, help="target average rank after pruning (target_r)"),
        Hyperparameter("init_ratio", 1.5, 1.1, 3.0, help="initial rank = init_ratio × rank (at least rank + 1)"),
        Hyperparameter("alpha_ratio", 2.0, 0.5, 4.0, help="lora_alpha = alpha_ratio × rank; scale = lora_alpha / initial rank"),
        Hyperparameter("dropout", 0.1, 0.0, 0.3, help="dropout on the adapter input"),
        Hyperparameter("targets", "all_linear", choices=TARGETS, help="which linear layers get an adapter"),
        Hyperparameter("tinit_ratio", 0.1, 0.0, 0.4, help="fraction of steps before pruning starts"),
        Hyperparameter("tfinal_ratio", 0.3, 0.0, 0.4, help="fraction of steps at the end that train the final ranks"),
        Hyperparameter("delta_t", 1, 1, 100, log=True, help="steps between two budget allocations"),
        Hyperparameter("orth_reg", 0.1, 0.0, 1.0, help="weight γ of the orthogonality regulariser"),
    )

    def init_rank(self) -> int:
        return max(self.params["rank"] + 1, round(self.params["init_ratio"] * self.params["rank"]))

    def prepare(self, model, total_steps):
        from peft import AdaLoraConfig, get_peft_model

        if total_steps < 2:
            raise UserError(f"adalora needs at least 2 optimiser steps to score and prune ranks; this run has {total_steps}")
        config = AdaLoraConfig(
            init_r=self.init_rank(), target_r=self.params["rank"],
            lora_alpha=self.params["alpha_ratio"] * self.params["rank"], lora_dropout=self.params["dropout"],
            target_modules=target_modules(model.encoder, self.params["targets"], self.name),
            total_step=total_steps, tinit=math.floor(self.params["tinit_ratio"] * total_steps),
            # the allocation at step total - tfinal needs scores from at least one earlier step
            tfinal=min(math.floor(self.params["tfinal_ratio"] * total_steps), total_steps - 2),
            deltaT=self.params["delta_t"], orth_reg_weight=self.params["orth_reg"],
        )
        model.encoder = get_peft_model(model.encoder, config)
        add_orthogonality_gradient(model.encoder, self.params["orth_reg"])

    def after_optimizer_step(self, model, step, total_steps):
        model.encoder.base_model.update_and_allocate(step)
