"""RandLoRA (Albert et al., 2025, "RandLoRA: Full-rank parameter-efficient fine-tuning of large models",
ICLR 2025, arXiv:2502.00987) through peft (``RandLoraConfig``).

VeRA's frozen random projections, but enough of them to reach full rank: ``min(in, out) / rank`` pairs of
random low-rank bases are drawn once (from a fixed key, so rebuilding draws the same) and shared by the adapted
layers, and each layer trains only diagonal scalings of them (``randlora_lambda`` and ``randlora_gamma``). The
update is full-rank from few parameters; a *smaller* ``rank`` means more bases and more trained numbers.

The paper scales the update by alpha / rank with alpha ≈ 20 × rank, which peft's docs echo and which makes the
update large: hence ``alpha_ratio`` (default 20) and a learning rate of LoRA's order, not VeRA's (peft's
example: 3e-4 on a 7B decoder where LoRA uses 1e-4; its docs: lower the rate if training is unstable). On SST-2
(the quick preset's 2,000 examples, one epoch) dev accuracy was 74.3 % at 2.5× peftbench's LoRA rate (5e-3),
84.5 % at LoRA's (2e-3) and 82.9 % at 1e-3, so the default is LoRA's. Linear and GPT-2 Conv1D layers.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import DROPOUT, TARGETS_PARAMETER, PeftTuner


class RandLora(PeftTuner):
    name = "randlora"
    paper = """@inproceedings{albert2025randlora,
  author = {Albert, Paul and Zhang, Frederic Z. and Saratchandran, Hemanth and Rodriguez-Opazo, Cristian and
    van den Hengel, Anton and Abbasnejad, Ehsan},
  title = {{RandLoRA}: Full-rank parameter-efficient fine-tuning of large models},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2025}
}"""
    label = "RandLoRA"
    groups = ("lora-family", "peft-2025")
    summary = "full-rank update from shared frozen random bases, trained diagonal scalings per layer (peft)"
    takes_conv1d = True
    learning_rate = Hyperparameter("lr", 2e-3, 2e-4, 1e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("rank", 32, 8, 64, log=True, help="rank of each random basis (smaller: more bases, more parameters)"),
        Hyperparameter("alpha_ratio", 20.0, 2.0, 40.0, log=True, help="randlora_alpha = alpha_ratio × rank (scale alpha / rank)"),
        DROPOUT,
        TARGETS_PARAMETER,
    )

    def peft_config(self, encoder):
        from peft import RandLoraConfig

        return RandLoraConfig(r=self.params["rank"], randlora_alpha=self.params["alpha_ratio"] * self.params["rank"],
                              randlora_dropout=self.params["dropout"], projection_prng_key=0, **self.placement(encoder))
