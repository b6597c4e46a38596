"""TinyLoRA (2026, "Learning to Reason in 13 Parameters", arXiv:2602.04118) through peft (``TinyLoraConfig``).

LoRA-XS's update taken to its limit: each adapted weight is SVD-decomposed once (its top-``rank`` U, Σ, V kept
frozen) and ΔW = U Σ R Vᵀ, where the small ``rank`` × ``rank`` matrix R is a trained vector v of ``u`` numbers
projected through fixed random tensors (R = Σᵢ vᵢ Pᵢ, drawn from a fixed seed). v starts at zero, so training starts
from the pretrained function; ``weight_tying`` shares v across a fraction of the layers (1.0: one vector for the
whole model). The base weights are not changed: the SVD factors are extra frozen buffers.

The paper trains with reinforcement learning on reasoning tasks; here it is plain supervised classification.
Learning rate: peft's method comparison trains it at 1e-3 on a 3B decoder, 10× its LoRA rate; ``rank`` 2 is the
paper's recommendation and ``u`` 64 peft's default. Linear and GPT-2 Conv1D layers.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import DROPOUT, TARGETS_PARAMETER, PeftTuner


class TinyLora(PeftTuner):
    name = "tinylora"
    paper = """@article{morris2026reason,
  author = {Morris, John X. and Mireshghallah, Niloofar and Ibrahim, Mark and Mahloujifar, Saeed},
  title = {Learning to Reason in 13 Parameters},
  journal = {arXiv preprint arXiv:2602.04118},
  year = {2026}
}"""
    label = "TinyLoRA"
    groups = ("lora-family", "peft-2025")
    summary = "a few trained numbers per layer steer fixed random mixes inside each weight's top SVD factors (peft)"
    takes_conv1d = True
    learning_rate = Hyperparameter("lr", 2e-2, 2e-3, 1e-1, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("rank", 2, 1, 16, log=True, help="rank of the frozen SVD factors of each weight"),
        Hyperparameter("u", 64, 4, 256, log=True, help="trained numbers per vector v"),
        Hyperparameter("weight_tying", 0.0, 0.0, 1.0, help="fraction of layers sharing one v (1: a single vector)"),
        DROPOUT,
        TARGETS_PARAMETER,
    )

    def peft_config(self, encoder):
        from peft import TinyLoraConfig

        return TinyLoraConfig(r=self.params["rank"], u=self.params["u"], weight_tying=self.params["weight_tying"],
                              tinylora_dropout=self.params["dropout"], projection_seed=42, **self.placement(encoder))
