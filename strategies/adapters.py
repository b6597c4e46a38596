"""Bottleneck adapters (Houlsby et al., 2019; Pfeiffer et al., 2021), written here because peft has
none and the ``adapters`` library pins an old transformers.

Each adapter is down-project → nonlinearity → up-project with a residual, its up-projection
initialised near zero so training starts from the pretrained function. Houlsby places one after the
attention output projection and one after the feed-forward output projection of every block; Pfeiffer
only after the feed-forward one. Both projections are found from the model's structure
(``peftbench.architecture``), so encoders and decoders of every family work, fused attention included.
"""

from __future__ import annotations

import torch
from torch import nn

from peftbench.architecture import find_architecture, norm_layers
from peftbench.errors import UserError
from peftbench.strategy import Hyperparameter, Strategy, freeze_encoder

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


class Bottleneck(nn.Module):
    """``x + up(act(down(x)))``, close to the identity at initialisation."""

    def __init__(self, hidden: int, size: int, activation: str, init_scale: float = 1e-3):
        super().__init__()
        self.down = nn.Linear(hidden, size)
        self.act = ACTIVATIONS[activation]()
        self.up = nn.Linear(size, hidden)
        nn.init.normal_(self.down.weight, std=init_scale)
        nn.init.normal_(self.up.weight, std=init_scale)
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(self.act(self.down(x)))


class WithAdapter(nn.Module):
    """A frozen output projection followed by a trainable bottleneck adapter."""

    def __init__(self, projection: nn.Module, adapter: Bottleneck):
        super().__init__()
        self.projection = projection
        self.adapter = adapter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.adapter(self.projection(x))


def adapter_sites(encoder: nn.Module, placement: str) -> list[str]:
    """Module paths of the projections that get an adapter after them, block by block."""
    arch = find_architecture(encoder)
    sites = []
    for block in arch.blocks:
        wanted = [block.attention_output, block.feedforward_output] if placement == "houlsby" else [block.feedforward_output]
        if None in wanted:
            missing = "attention output" if wanted[0] is None and placement == "houlsby" else "feed-forward output"
            raise UserError(f"adapters: no {missing} projection found in {block.path} of {arch.model_class}")
        sites += wanted
    return sites


class Adapters(Strategy):
    name = "adapters"
    paper = """@inproceedings{houlsby2019parameter,
  author = {Houlsby, Neil and Giurgiu, Andrei and Jastrzebski, Stanislaw and Morrone, Bruna and
    de Laroussilhe, Quentin and Gesmundo, Andrea and Attariyan, Mona and Gelly, Sylvain},
  title = {Parameter-Efficient Transfer Learning for {NLP}},
  booktitle = {International Conference on Machine Learning (ICML)},
  year = {2019}
}"""
    groups = ("classic",)
    family = "additive"
    summary = "bottleneck adapters after attention and/or feed-forward blocks"
    learning_rate = Hyperparameter("lr", 1e-3, 1e-4, 5e-3, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("size", 64, 4, 256, log=True, help="bottleneck width"),
        Hyperparameter("placement", "houlsby", choices=("houlsby", "pfeiffer"), help="after attention+FFN, or FFN only"),
        Hyperparameter("activation", "gelu", choices=tuple(ACTIVATIONS)),
        Hyperparameter("train_layer_norm", True, choices=(True, False), help="also train LayerNorms (Houlsby)"),
    )

    def prepare(self, model, total_steps):
        freeze_encoder(model)
        hidden = model.encoder.config.hidden_size
        for name in adapter_sites(model.encoder, self.params["placement"]):
            parent_name, _, child = name.rpartition(".")
            parent = model.encoder.get_submodule(parent_name)
            adapter = Bottleneck(hidden, self.params["size"], self.params["activation"])
            setattr(parent, child, WithAdapter(getattr(parent, child), adapter))
        if self.params["train_layer_norm"]:
            for path in norm_layers(model.encoder):
                for parameter in model.encoder.get_submodule(path).parameters(recurse=False):
                    parameter.requires_grad = True
