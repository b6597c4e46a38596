"""DeLoRA (Bini et al., 2025, "Decoupling Angles and Strength in Low-rank Adaptation", ICLR 2025,
arXiv:2503.18225) through peft (``DeloraConfig``).

LoRA's update with its direction and its strength learned apart: each rank-1 component of BA is normalised (by
the norms of its row of A and column of B) and the sum is scaled by a trained boundary λ / r and by the
pretrained weight's column norms, so ‖ΔW‖ can never exceed what λ allows however far A and B move. B starts at
zero (the pretrained function). λ is a magnitude, not a weight, so it gets no weight decay.

peft's docs ask for 10–100× LoRA's learning rate and an initial λ around 10–15 (its default 15): the default
here is 10× peftbench's LoRA rate, the range spans the rest. ``nn.Linear`` layers only.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import MODULE_DROPOUT, TARGETS_PARAMETER, PeftTuner


class Delora(PeftTuner):
    name = "delora"
    paper = """@inproceedings{bini2025delora,
  author = {Bini, Massimo and Girrbach, Leander and Akata, Zeynep},
  title = {Decoupling Angles and Strength in Low-rank Adaptation},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2025}
}"""
    label = "DeLoRA"
    groups = ("lora-family", "peft-2025")
    summary = "normalised low-rank directions under a trained norm boundary λ (peft)"
    learning_rate = Hyperparameter("lr", 2e-2, 2e-3, 2e-1, log=True, help="peak learning rate (10-100× LoRA's)")
    hyperparameters = (
        Hyperparameter("rank", 8, 1, 64, log=True, help="rank of the update"),
        Hyperparameter("lambda_initial", 15.0, 1.0, 50.0, log=True, help="initial norm boundary λ"),
        MODULE_DROPOUT,
        TARGETS_PARAMETER,
    )
    undecayed = ("delora_lambda",)  # the boundary is a magnitude; decay would shrink what the update may reach

    def peft_config(self, encoder):
        from peft import DeloraConfig

        return DeloraConfig(r=self.params["rank"], delora_lambda=self.params["lambda_initial"],
                            module_dropout=self.params["module_dropout"], target_modules=self.targets(encoder))
