"""LN tuning (Zhao et al., 2024, "Tuning LayerNorm in Attention: Towards Efficient Multi-Modal LLM
Finetuning", ICLR; peft's LNTuning): only the normalisation layers' gains and biases train (and the head).

The norm layers are found by structure, not by name: every module of the encoder whose class name ends in
``Norm`` and has parameters (``LayerNorm``, ``LlamaRMSNorm``, ``GemmaRMSNorm``...), the embeddings' and the
final norm included. peft trains a copy of each and leaves the pretrained one untouched.
"""

from __future__ import annotations

import warnings

from peftbench.architecture import norm_layers
from peftbench.errors import UserError
from peftbench.strategy import Hyperparameter
from strategies.loha import PeftTuner


class LnTuning(PeftTuner):
    name = "ln_tuning"
    paper = """@inproceedings{zhao2024layernorm,
  author = {Zhao, Bingchen and Tu, Haoqin and Wei, Chen and Mei, Jieru and Xie, Cihang},
  title = {Tuning {LayerNorm} in Attention: Towards Efficient Multi-Modal {LLM} Finetuning},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2024}
}"""
    label = "LN tuning"
    family = "selective"
    summary = "only the normalisation layers (and the head) train, via peft"
    learning_rate = Hyperparameter("lr", 5e-3, 1e-4, 5e-2, log=True, help="peak learning rate")
    undecayed = ("ln_tuning_layers",)  # norm gains: peft's copies no longer end in "norm.weight"

    def peft_config(self, encoder):
        from peft import LNTuningConfig

        targets = norm_layers(encoder)
        if not targets:
            raise UserError(f"ln_tuning: {type(encoder).__name__} has no normalisation layers with parameters")
        return LNTuningConfig(target_modules=targets)

    def prepare(self, model, total_steps):
        with warnings.catch_warnings():  # peft warns of every norm layer as an "unsupported layer type" it wraps anyway
            warnings.filterwarnings("ignore", message="Unsupported layer type")
            super().prepare(model, total_steps)
