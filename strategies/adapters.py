"""Bottleneck adapters (Houlsby et al., 2019; Pfeiffer et al., 2021), written here because peft has
none and the ``adapters`` library pins an old transformers.

Each adapter is down-project → nonlinearity → up-project with a residual, its up-projection
initialised near zero so training starts from the pretrained function. Houlsby places one after the
attention output projection and one after the feed-forward output; Pfeiffer only after the
feed-forward. The output projections are found by name, so BERT, RoBERTa, MiniLM, ELECTRA and
DistilBERT all work.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from core.errors import UserError
from strategies.base import Hyperparameter, Strategy, freeze_encoder

# Output projections of the attention block and of the feed-forward block, per naming convention.
ATTENTION_OUTPUT = re.compile(r"(attention\.output\.dense|attention\.out_lin)$")
FEEDFORWARD_OUTPUT = re.compile(r"(layers?\.\d+\.output\.dense|ffn\.lin2)$")
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

    def __init__(self, projection: nn.Linear, adapter: Bottleneck):
        super().__init__()
        self.projection = projection
        self.adapter = adapter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.adapter(self.projection(x))


def adapter_sites(encoder: nn.Module, placement: str) -> list[str]:
    patterns = [FEEDFORWARD_OUTPUT] + ([ATTENTION_OUTPUT] if placement == "houlsby" else [])
    sites = [name for name, module in encoder.named_modules()
             if isinstance(module, nn.Linear) and any(p.search(name) for p in patterns)]
    if not sites:
        raise UserError(f"adapters: no attention/feed-forward output projections recognised in {type(encoder).__name__}")
    return sites


class Adapters(Strategy):
    name = "adapters"
    summary = "bottleneck adapters after attention and/or feed-forward blocks"
    learning_rate = Hyperparameter("lr", 1e-3, 1e-4, 5e-3, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("size", 64, 4, 256, log=True, help="bottleneck width"),
        Hyperparameter("placement", "houlsby", choices=("houlsby", "pfeiffer"), help="after attention+FFN, or FFN only"),
        Hyperparameter("activation", "gelu", choices=tuple(ACTIVATIONS)),
        Hyperparameter("train_layer_norm", True, choices=(True, False), help="also train LayerNorms (Houlsby)"),
    )

    def prepare(self, model, params):
        freeze_encoder(model)
        hidden = model.encoder.config.hidden_size
        for name in adapter_sites(model.encoder, params["placement"]):
            parent_name, _, child = name.rpartition(".")
            parent = model.encoder.get_submodule(parent_name)
            adapter = Bottleneck(hidden, params["size"], params["activation"])
            setattr(parent, child, WithAdapter(getattr(parent, child), adapter))
        if params["train_layer_norm"]:
            for name, parameter in model.encoder.named_parameters():
                if "LayerNorm" in name or "layer_norm" in name:
                    parameter.requires_grad = True
