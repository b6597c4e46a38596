"""KaSA (Wang et al., 2025, "KaSA: Knowledge-Aware Singular-Value Adaptation of Large Language Models", ICLR
2025, arXiv:2412.06071) through peft (``LoraConfig(kasa_config=...)``).

Two changes to LoRA. First, each adapted weight is truncated once by SVD: its ``rank`` smallest singular
components (the paper's noisy, long-tail knowledge) are discarded from the frozen weight. Second, the update is
SVD-shaped, ΔW = B diag(ΔΣ) A, with a trained diagonal of singular values between LoRA's factors. The paper adds
two regularisers to the task loss: β‖ΔΣ‖² and γ(‖BᵀB − I‖_F + ‖AAᵀ − I‖_F), so B, ΔΣ, A behave like an SVD.
peft computes them (``_get_kasa_loss``) but cannot add them to a loss it never sees, and the core computes the
loss from our head: their gradients are added here by hooks on the trained tensors, exactly as if the terms were
in the loss (the logged loss leaves them out), summed over layers as peft sums them. β = 1e-4 and γ = 1e-3 are
the paper's GLUE values (peft's defaults).

The truncation rewrites the pretrained weights, and no adapter on the untouched base reproduces it (peft cannot
convert KaSA to a plain LoRA): the run reloads exactly (rebuilding repeats the deterministic SVD), and the
trained model exports merged (``--merge``), not as an adapter. LoRA's defaults otherwise; B starts at zero, so
training starts from the truncated weight's function, close to but not exactly the pretrained one.
"""

from __future__ import annotations

from functools import partial

import torch

from peftbench.strategy import Hyperparameter
from strategies.adalora import add_orthogonality_gradient
from strategies.lora import Lora


def singular_value_gradient(parameter: torch.nn.Parameter, beta: float) -> None:
    """Add the gradient of β‖ΔΣ‖² to a KaSA ``lora_diag``'s gradient."""
    with torch.no_grad():
        parameter.grad.add_(parameter, alpha=2 * beta)


class Kasa(Lora):
    name = "kasa"
    paper = """@inproceedings{wang2025kasa,
  author = {Wang, Fan and Jiang, Juyong and Park, Chansung and Kim, Sunghun and Tang, Jing},
  title = {{KaSA}: Knowledge-Aware Singular-Value Adaptation of Large Language Models},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2025}
}"""
    label = "KaSA"
    groups = ("lora-family", "peft-2025")
    summary = "LoRA with trained singular values on an SVD-truncated base, SVD-like regularisers (peft)"
    base_weights = "rewritten"  # the r smallest singular components are cut from each adapted weight
    takes_conv1d = False  # peft's KaSA refuses fan_in_fan_out layers
    hyperparameters = Lora.hyperparameters + (
        Hyperparameter("beta", 1e-4, 0.0, 1e-2, help="weight of the singular-value penalty ‖ΔΣ‖²"),
        Hyperparameter("gamma", 1e-3, 0.0, 1e-1, help="weight of the orthogonality penalty on A and B"),
    )

    def lora_options(self):
        from peft import KasaConfig

        return {"kasa_config": KasaConfig(beta=self.params["beta"], gamma=self.params["gamma"])}

    def prepare(self, model, total_steps):
        super().prepare(model, total_steps)
        add_orthogonality_gradient(model.encoder, self.params["gamma"], average=False)
        if self.params["beta"] > 0:
            for name, parameter in model.encoder.named_parameters():
                if ".lora_diag." in name and parameter.requires_grad:
                    parameter.register_post_accumulate_grad_hook(partial(singular_value_gradient, beta=self.params["beta"]))
