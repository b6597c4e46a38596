"""Layer-wise learning-rate decay (Howard & Ruder 2018; Clark et al. 2020): every parameter trains,
layer i of L at lr·decay^(L−i), the embeddings (layer 0) smallest, the head at the base lr."""

from __future__ import annotations

import re

from strategies.base import Hyperparameter, Strategy, decay_groups, trainable_named_parameters

LAYER_INDEX = re.compile(r"(?:^|\.)layers?\.(\d+)\.")


def layer_depth(name: str, num_layers: int) -> int:
    """0 for embeddings, i (1-based) for transformer layer i-1, ``num_layers`` for anything above them."""
    if "embeddings" in name:
        return 0
    match = LAYER_INDEX.search(name)
    return int(match.group(1)) + 1 if match else num_layers


class Llrd(Strategy):
    name = "llrd"
    summary = "all parameters train, learning rate decaying from the top layer down"
    learning_rate = Hyperparameter("lr", 2e-4, 2e-5, 5e-4, log=True, help="learning rate of the head and top layer")
    hyperparameters = (
        Hyperparameter("decay", 0.9, 0.5, 1.0, help="per-layer learning-rate factor (1 = no decay)"),
    )

    def param_groups(self, model, lr, weight_decay, params):
        num_layers = model.encoder.config.num_hidden_layers
        by_depth: dict[int, list] = {}
        for name, parameter in trainable_named_parameters(model):
            depth = num_layers if name.startswith("classifier") else layer_depth(name.removeprefix("encoder."), num_layers)
            by_depth.setdefault(depth, []).append((name, parameter))
        groups = []
        for depth in sorted(by_depth):
            groups += decay_groups(by_depth[depth], lr * params["decay"] ** (num_layers - depth), weight_decay)
        return groups
