"""(IA)³ (Liu et al., 2022, "Few-Shot Parameter-Efficient Fine-Tuning is Better and Cheaper than In-Context
Learning", NeurIPS; via peft): learned vectors rescale the attention's keys and values and the feed-forward
block's inner activations, ``k ⊙ l_k``, ``v ⊙ l_v``, ``(W2 (l_ff ⊙ γ(W1 x)))``; they start at 1, so training
starts from the pretrained function.

The layers are found from the model's structure (``peftbench.architecture``): the key and value projections
among each block's attention input projections (peft's per-family table names them; where it has no entry,
every attention input projection, queries and fused ``Wqkv``/``c_attn`` included, is rescaled), and each
block's feed-forward output projection, whose *input* is rescaled (peft's ``feedforward_modules``).
"""

from __future__ import annotations

from torch import nn

from peftbench.architecture import find_architecture
from peftbench.errors import UserError
from peftbench.strategy import Hyperparameter
from strategies.loha import PeftTuner


def ia3_targets(encoder: nn.Module) -> tuple[list[str], list[str]]:
    """(every rescaled layer, the feed-forward ones among them), as module paths."""
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING as TABLE

    arch = find_architecture(encoder)
    inputs = [path for block in arch.blocks for path in block.attention_inputs]
    suffixes = TABLE.get(arch.model_type) or []
    keys_values = [path for path in inputs if any(path.endswith("." + suffix) for suffix in suffixes)] or inputs
    feedforward = [block.feedforward_output for block in arch.blocks if block.feedforward_output]
    if not keys_values or len(feedforward) < len(arch.blocks):
        missing = "attention input" if not keys_values else "feed-forward output"
        raise UserError(f"ia3: found no {missing} projection in every block of {arch.model_class}")
    return keys_values + feedforward, feedforward


class Ia3(PeftTuner):
    name = "ia3"
    paper = """@inproceedings{liu2022fewshot,
  author = {Liu, Haokun and Tam, Derek and Muqeeth, Mohammed and Mohta, Jay and Huang, Tenghao and Bansal, Mohit and
    Raffel, Colin},
  title = {Few-Shot Parameter-Efficient Fine-Tuning is Better and Cheaper than In-Context Learning},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2022}
}"""
    label = "(IA)³"
    family = "additive"
    summary = "learned vectors rescale keys, values and feed-forward activations, via peft"
    learning_rate = Hyperparameter("lr", 3e-2, 1e-3, 1e-1, log=True, help="peak learning rate")
    undecayed = ("ia3_l",)  # the scales start at 1; decay would pull them towards 0

    def peft_config(self, encoder):
        from peft import IA3Config

        targets, feedforward = ia3_targets(encoder)
        return IA3Config(target_modules=targets, feedforward_modules=feedforward)
