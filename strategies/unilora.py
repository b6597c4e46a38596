"""Uni-LoRA (Li et al., 2025, "Uni-LoRA: One Vector Is All You Need", arXiv:2506.00799) through peft
(``UniLoraConfig``).

Every entry of every adapted layer's LoRA matrices A and B is read from one trained vector θ_d of
``theta_d_length`` numbers, through a fixed random assignment (each entry gets one index, drawn once from a
fixed seed, scaled by 1/√(entries sharing that index)): the whole model's adaptation is that one vector. θ_d
starts uniform in ±0.02, so ΔW = BA is small but not zero at the start.

Learning rate: peft's MetaMathQA benchmark scored 0.15 % at LoRA's rate and 41.6 % at 20× it (peft#3552, r = 4,
the paper's Table 9 rank), so the default here is 20× peftbench's LoRA rate. ``theta_d_length`` default: a
few thousand entries per adapted layer's LoRA budget (16,384 in all), in the paper's range for GLUE-sized models.
Linear and GPT-2 Conv1D layers.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import DROPOUT, TARGETS_PARAMETER, PeftTuner


class UniLora(PeftTuner):
    name = "unilora"
    paper = """@article{li2025unilora,
  author = {Li, Kaiyang and Han, Shaobo and Su, Qing and Li, Wei and Cai, Zhipeng and Ji, Shihao},
  title = {{Uni-LoRA}: One Vector is All You Need},
  journal = {arXiv preprint arXiv:2506.00799},
  year = {2025}
}"""
    label = "Uni-LoRA"
    groups = ("lora-family", "peft-2025")
    summary = "every LoRA entry of the model read from one shared trained vector by a fixed random map (peft)"
    takes_conv1d = True
    learning_rate = Hyperparameter("lr", 4e-2, 2e-3, 2e-1, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("rank", 4, 1, 32, log=True, help="rank of the LoRA matrices read from the vector"),
        Hyperparameter("theta_d_length", 16384, 1024, 131072, log=True, help="length of the one trained vector"),
        DROPOUT,
        TARGETS_PARAMETER,
    )

    def peft_config(self, encoder):
        from peft import UniLoraConfig

        return UniLoraConfig(r=self.params["rank"], theta_d_length=self.params["theta_d_length"], proj_seed=42,
                             unilora_dropout=self.params["dropout"], **self.placement(encoder))
