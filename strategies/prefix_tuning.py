"""Prefix tuning (Li & Liang, 2021, "Prefix-Tuning: Optimizing Continuous Prompts for Generation", ACL; for
encoders and classification as in P-tuning v2, Liu et al., 2022): trainable key and value vectors for
``num_virtual_tokens`` virtual positions are prepended in *every* attention layer of the frozen encoder, so
each layer attends to them. With ``projection`` they are produced by a two-layer MLP from smaller
embeddings (the paper's reparameterisation, for stability). peft's ``PrefixEncoder`` inside the wrapper of
``strategies.prompt_tuning``.

The prefix reaches the layers as a key/value cache (transformers' ``Cache``), which encoders accept too: in
transformers 5 ``BertModel.forward`` takes ``cache`` (``past_key_values``, deprecated, until 5.40), and
attends to a cache whatever ``is_decoder`` says. The attention mask is extended over the prefix; the hidden
states keep their original length (the prefix is no input position); the positions of the real tokens
start after the prefix (as in peft and P-tuning v2). Whether a model attends to such a prefix is measured
when the strategy prepares it: a model that rejects or ignores it gets one clear error.
"""

from __future__ import annotations

import inspect

import torch
from torch import nn

from peftbench.errors import UserError
from peftbench.strategy import Hyperparameter, freeze_encoder
from strategies.prompt_tuning import VIRTUAL_TOKENS, EncoderOutput, Prompted, PromptMethod


def cache_argument(encoder: nn.Module, method: str) -> str:
    """The name under which the encoder's forward takes a key/value cache; one clear line if it takes none."""
    accepted = inspect.signature(encoder.forward).parameters
    name = next((name for name in ("cache", "past_key_values") if name in accepted), None)
    if name is None:
        raise UserError(f"{method}: {type(encoder).__name__}.forward takes no key/value cache (neither cache nor "
                        f"past_key_values), so it cannot attend to a prefix")
    return name


class KeyValuePrefix(Prompted):
    """Trainable keys and values prepended in every attention layer (through a cache)."""

    def __init__(self, encoder: nn.Module, prompt: nn.Module, num_virtual_tokens: int, method: str, *,
                 layers: int, heads: int, head_dim: int):
        super().__init__(encoder, prompt, num_virtual_tokens, method)
        self.layers, self.heads, self.head_dim = layers, heads, head_dim
        self.cache_argument = cache_argument(encoder, method)

    def prefix_cache(self, batch: int, dtype: torch.dtype):
        """A fresh cache holding the prefix of every layer (a forward pass appends to it)."""
        from transformers import DynamicCache

        # (1, P, layers * 2 * heads * head_dim) → (layers * 2, batch, heads, P, head_dim)
        values = self.prompt(self.indices).view(self.num_virtual_tokens, self.layers * 2, self.heads, self.head_dim)
        values = values.permute(1, 2, 0, 3).unsqueeze(1).expand(-1, batch, -1, -1, -1).to(dtype)
        cache = DynamicCache(config=self.config)
        for layer in range(self.layers):
            cache.update(values[2 * layer], values[2 * layer + 1], layer)
        return cache

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **extra: torch.Tensor) -> EncoderOutput:
        self.check_length(input_ids.shape[1])
        self.shift_positions(extra, virtual=False)
        return EncoderOutput(self.run(input_ids, self.extend_mask(attention_mask), **extra))

    def run(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **extra: torch.Tensor) -> torch.Tensor:
        device = input_ids.device.type
        dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else self.prompt_dtype()
        cache = self.prefix_cache(input_ids.shape[0], dtype)
        return self.base(input_ids=input_ids, attention_mask=attention_mask, **{self.cache_argument: cache},
                         **extra).last_hidden_state

    def prompt_dtype(self) -> torch.dtype:
        return next(p for p in self.base.parameters()).dtype

    def check_attends(self) -> None:
        """Measure that the encoder attends to the prefix: masking the prefix out must change the output.
        One clear UserError when the model rejects the cache or ignores it."""
        vocab = self.get_input_embeddings().num_embeddings
        ids = (torch.tensor([[1, 2, 3, 4]]) % vocab).to(self.indices.device)
        mask = torch.ones_like(ids)
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                seen = self.run(ids, self.extend_mask(mask))
                hidden = self.run(ids, torch.cat([torch.zeros_like(self.indices), mask], dim=1))
        except Exception as error:  # the model's own complaint about the cache, in one line
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise UserError(f"{self.method}: {type(self.base).__name__} cannot take a key/value prefix "
                            f"({type(error).__name__}: {first[:200]})") from None
        finally:
            self.train(was_training)
        if seen.shape != hidden.shape or torch.allclose(seen, hidden, rtol=0, atol=1e-6):
            raise UserError(f"{self.method}: {type(self.base).__name__} ignores a key/value prefix passed as "
                            f"{self.cache_argument}, so prefix tuning would train nothing")


class PrefixTuning(PromptMethod):
    name = "prefix_tuning"
    paper = """@inproceedings{li2021prefix,
  author = {Li, Xiang Lisa and Liang, Percy},
  title = {Prefix-Tuning: Optimizing Continuous Prompts for Generation},
  booktitle = {Proceedings of the 59th Annual Meeting of the Association for Computational Linguistics and the 11th
    International Joint Conference on Natural Language Processing (Volume 1: Long Papers)},
  year = {2021}
}"""
    label = "prefix tuning"
    summary = "trainable key/value prefixes in every attention layer of the frozen encoder"
    learning_rate = Hyperparameter("lr", 3e-2, 1e-3, 1e-1, log=True, help="peak learning rate")
    hyperparameters = (
        VIRTUAL_TOKENS,
        Hyperparameter("projection", False, choices=(False, True),
                       help="produce the prefix with a two-layer MLP (Li & Liang's reparameterisation; needs a lr near 1e-3)"),
        Hyperparameter("projection_hidden", 512, 32, 1024, log=True, help="the MLP's hidden width (with projection)"),
    )

    def prefix_config(self, encoder: nn.Module):
        """peft's config with the encoder's geometry filled in by peft (layers, key/value heads, head width)."""
        from peft import PrefixTuningConfig
        from peft.utils import _prepare_prompt_learning_config

        config = PrefixTuningConfig(num_virtual_tokens=self.params["num_virtual_tokens"], num_transformer_submodules=1,
                                    prefix_projection=self.params["projection"],
                                    encoder_hidden_size=self.params["projection_hidden"])
        try:
            return _prepare_prompt_learning_config(config, encoder.config)
        except ValueError as error:
            raise UserError(f"{self.name}: cannot read the layer count, heads or width from "
                            f"{type(encoder.config).__name__} ({error})") from None

    def prepare(self, model, total_steps):
        from peft.tuners.prefix_tuning import PrefixEncoder

        cache_argument(model.encoder, self.name)  # first: a model without a cache has nothing to size a prefix for
        config = self.prefix_config(model.encoder)
        freeze_encoder(model)
        model.encoder = KeyValuePrefix(model.encoder, PrefixEncoder(config), config.num_virtual_tokens, self.name,
                                       layers=config.num_layers, heads=config.num_attention_heads,
                                       head_dim=config.token_dim // config.num_attention_heads)
        model.encoder.check_attends()
