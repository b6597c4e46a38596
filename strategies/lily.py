"""Lily (2024, "Low-Rank Interconnected Adaptation across Layers", arXiv:2407.09946) through peft
(``LilyConfig``).

LoRA's A and B shared across layers instead of owned per layer: every ``stride_A`` consecutive layers of a kind
(queries, values, ...) share one A, and all layers of a kind share a pool of ``num_B`` B matrices that a small
router mixes per input. Fewer, interconnected adapter matrices free the budget for a larger rank (peft's docs:
2–4× the LoRA rank one would use). The B matrices start at zero (the pretrained function); the router trains.
The mixture depends on the input, so the update cannot be merged into the weights: ``--merge`` is refused in one
line, the adapter exports as is.

peft groups the layers that share by the target name each one matched, so Lily gets the targets as paths within a
block (``attention.self.query``), not the full module paths the other methods get: with full paths every layer
would be its own group and nothing would be shared, silently.

Defaults: rank 32 (4× peftbench's LoRA rank 8), A shared by 2 layers and 3 B experts (half the MiniLM's 6
layers, as peft's docs suggest), ``scaling`` 2 (peft's example), LoRA's learning rate (peft's example trains
it at its LoRA rate). ``nn.Linear`` layers only.
"""

from __future__ import annotations

from torch import nn

from peftbench.architecture import find_architecture
from peftbench.strategy import Hyperparameter
from strategies.loha import TARGETS_PARAMETER, PeftTuner


class Lily(PeftTuner):
    name = "lily"
    paper = """@article{zhong2024lily,
  author = {Zhong, Yibo and Zhao, Jinman and Zhou, Yao},
  title = {Low-Rank Interconnected Adaptation across Layers},
  journal = {arXiv preprint arXiv:2407.09946},
  year = {2024}
}"""
    groups = ("lora-family",)
    summary = "low-rank adapters shared across layers: A per few layers, a routed pool of B experts (peft)"
    learning_rate = Hyperparameter("lr", 2e-3, 2e-4, 2e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("rank", 32, 4, 128, log=True, help="rank of the shared A and B"),
        Hyperparameter("stride_A", 2, 1, 4, help="consecutive layers sharing one A"),
        Hyperparameter("num_B", 3, 2, 8, help="B experts shared by all layers of a kind (router-mixed)"),
        Hyperparameter("scaling", 2.0, 0.1, 10.0, log=True, help="multiplier of the adapter output"),
        TARGETS_PARAMETER,
    )

    def peft_config(self, encoder):
        from peft import LilyConfig

        return LilyConfig(r=self.params["rank"], stride_A=self.params["stride_A"], num_B=self.params["num_B"],
                          scaling=self.params["scaling"], target_modules=within_blocks(encoder, self.targets(encoder)))


def within_blocks(encoder: nn.Module, targets: list[str]) -> list[str]:
    """The kinds of layer among ``targets``: each path without its block's, e.g. ``attention.self.query``, shortest
    first (peft's Lily groups a layer by the last of these its name ends with, so the longest match wins)."""
    arch = find_architecture(encoder)
    kinds = {path.removeprefix(block.path + ".") for path in targets for block in arch.blocks
             if path.startswith(block.path + ".")}
    return sorted(kinds, key=lambda kind: (len(kind), kind))
