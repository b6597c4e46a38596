"""BEFT (2025, "BEFT: Bias-Efficient Fine-Tuning of Language Models in Low-Data Regimes",
arXiv:2509.15974) through peft (``BeftConfig``).

BitFit narrowed to the one bias the paper finds matters most: only a trained shift of each block's value
projection output (``beft_bias``, starting at zero, i.e. a delta on that layer's bias) trains, with the head. The
paper reports it beating bias tuning of the queries or keys, and BitFit's all biases, in low-data regimes.

The value projections are found from the model's structure: peft's per-family table names them; where it has no
entry, the attention input projection named like a value (``value``, ``v_proj``, ``v_lin``, ``v``); where only a
fused query/key/value projection exists, that one. BEFT tunes an existing bias, so a model whose value projection
has none (Llama, Mistral, Gemma, ModernBERT...) is refused in one line, as BitFit refuses a bias-free model;
GPT-2's fused Conv1D is refused too (peft implements BEFT for ``nn.Linear`` only).

Learning rate: peft's example trains it at 8e-3; BitFit's scale here (3e-3) is its lower end, so the default is 1e-2.
"""

from __future__ import annotations

from torch import nn

from peftbench.architecture import find_architecture
from peftbench.errors import UserError
from peftbench.strategy import Hyperparameter
from strategies.lora import refuse_conv1d
from strategies.loha import PeftTuner

VALUE_NAMES = ("value", "v_proj", "v_lin", "v")


def value_projections(encoder: nn.Module) -> list[str]:
    """Each block's value projection (or its fused query/key/value projection), as module paths."""
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_BEFT_TARGET_MODULES_MAPPING as TABLE

    arch = find_architecture(encoder)
    names = tuple(TABLE.get(arch.model_type) or VALUE_NAMES)
    found = []
    for block in arch.blocks:
        values = [path for path in block.attention_inputs if path.rsplit(".", 1)[-1] in names]
        fused = block.attention_inputs if len(block.attention_inputs) == 1 else []
        if not (values or fused):
            raise UserError(f"beft: found no value projection in block {block.path} of {arch.model_class}")
        found += values or fused
    return found


class Beft(PeftTuner):
    name = "beft"
    paper = """@inproceedings{huang2026beft,
  author = {Huang, Baichuan and Balashankar, Ananth and Aminifar, Amir},
  title = {{BEFT}: Bias-Efficient Fine-Tuning of Language Models in Low-Data Regimes},
  booktitle = {Proceedings of the 64th Annual Meeting of the Association for Computational Linguistics (Volume 1: Long
    Papers)},
  year = {2026}
}"""
    label = "BEFT"
    family = "selective"
    groups = ("peft-2025",)
    summary = "only a shift of each value projection's bias (and the head) trains (peft)"
    learning_rate = Hyperparameter("lr", 1e-2, 1e-3, 1e-1, log=True, help="peak learning rate")

    def targets(self, encoder):
        paths = value_projections(encoder)
        refuse_conv1d(encoder, paths, self.name)
        for path in paths:
            if encoder.get_submodule(path).bias is None:
                raise UserError(f"beft: this model ({type(encoder).__name__}) has no bias on its value projection "
                                f"{path}, and BEFT tunes that bias")
        return paths

    def peft_config(self, encoder):
        from peft import BeftConfig

        return BeftConfig(target_modules=self.targets(encoder))
