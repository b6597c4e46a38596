"""DEFT (2025, "Decompositional Efficient Fine-Tuning for Text-to-Image Models", NeurIPS 2025) through peft
(``DeftConfig``).

Each adapted weight's update removes a learned low-rank subspace of the weight and injects new content into it:
W' = (I − P_proj) W + Q_P R, with P (out × rank) defining the projector and R (rank × in) the injection. peft
starts R at the projection of W itself, R = P_projᵀ W / scale, so the update is exactly zero at the start (the
pretrained function) and training learns what to put in the removed subspace; R starts as part of the pretrained
weight, so it gets no weight decay. The paper targets text-to-image personalisation; here it adapts a text
encoder's attention for classification, with peft's defaults (ReLU projector, injection scaled by alpha / rank).

Learning rate: peft's example trains it at 3× its LoRA rate, and the default here is 2.5× peftbench's; rank 8
is peft's default, alpha = 2 × rank its example's. Linear and GPT-2 Conv1D layers.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import DROPOUT, TARGETS_PARAMETER, PeftTuner


class Deft(PeftTuner):
    name = "deft"
    paper = """@inproceedings{kumar2025deft,
  author = {Kumar, Komal and Anwer, Rao Muhammad and Khan, Fahad Shahbaz and Khan, Salman and Laptev, Ivan and
    Cholakkal, Hisham},
  title = {{DEFT}: Decompositional Efficient Fine-Tuning for Text-to-Image Models},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2025}
}"""
    label = "DEFT"
    groups = ("peft-2025",)
    summary = "a learned low-rank subspace of each weight is projected out and refilled by a trained injection (peft)"
    takes_conv1d = True
    learning_rate = Hyperparameter("lr", 5e-3, 5e-4, 3e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("rank", 8, 1, 64, log=True, help="rank of the removed and injected subspace"),
        Hyperparameter("alpha_ratio", 2.0, 0.5, 4.0, help="the injection is scaled by alpha / rank, alpha = alpha_ratio × rank"),
        Hyperparameter("projector", "relu", choices=("relu", "qr"), help="P @ relu(P)ᵀ (relu) or an orthogonal projector (qr)"),
        DROPOUT,
        TARGETS_PARAMETER,
    )
    undecayed = ("deft_R",)  # R starts as the projection of the pretrained weight

    def peft_config(self, encoder):
        from peft import DeftConfig

        return DeftConfig(r=self.params["rank"], alpha=self.params["alpha_ratio"] * self.params["rank"],
                          decomposition_method=self.params["projector"], deft_dropout=self.params["dropout"],
                          **self.placement(encoder))
