"""Layer-wise learning-rate decay (Howard & Ruder 2018; Clark et al. 2020): every parameter trains,
block i of L at lr·decay^(L−i), the embeddings (depth 0) lowest, the head and final norm at the base lr.

Depth comes from the model's structure (``peftbench.architecture``), so GPT-2's ``h.N``, Llama's
``layers.N`` and BERT's ``encoder.layer.N`` all get L + 1 distinct rates, and token embeddings are
always the lowest. A model whose blocks share their weights (ALBERT) has no per-layer parameters to
give different rates, and is refused.
"""

from __future__ import annotations

from peftbench.architecture import find_architecture
from peftbench.errors import UserError
from peftbench.strategy import Hyperparameter, Strategy, decay_groups, trainable_named_parameters


class Llrd(Strategy):
    name = "llrd"
    paper = """@inproceedings{howard2018universal,
  author = {Howard, Jeremy and Ruder, Sebastian},
  title = {Universal Language Model Fine-tuning for Text Classification},
  booktitle = {Proceedings of the 56th Annual Meeting of the Association for Computational Linguistics (Volume 1: Long
    Papers)},
  year = {2018}
}"""
    groups = ("classic",)
    family = "full"
    summary = "all parameters train, learning rate decaying from the top layer down"
    learning_rate = Hyperparameter("lr", 2e-4, 2e-5, 5e-4, log=True, help="learning rate of the head and top layer")
    hyperparameters = (
        Hyperparameter("decay", 0.9, 0.5, 1.0, help="per-layer learning-rate factor (1 = no decay)"),
    )

    def prepare(self, model, total_steps):
        arch = find_architecture(model.encoder)
        if arch.shared_layers:
            raise UserError(f"llrd: {arch.model_class} shares one set of weights across its {arch.num_layers} layers "
                            f"({len(arch.blocks)} distinct block(s)), so there are no per-layer parameters to give "
                            f"decaying learning rates; use full")

    def param_groups(self, model, lr, weight_decay):
        arch = find_architecture(model.encoder)
        top = len(arch.blocks)
        by_depth: dict[int, list] = {}
        for name, parameter in trainable_named_parameters(model):
            depth = arch.depth(name.removeprefix("encoder.")) if name.startswith("encoder.") else top
            by_depth.setdefault(depth, []).append((name, parameter))
        groups = []
        for depth in sorted(by_depth):
            groups += decay_groups(by_depth[depth], lr * self.params["decay"] ** (top - depth), weight_decay)
        return groups
