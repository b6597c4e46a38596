"""Prompt tuning (Lester et al., 2021, "The Power of Scale for Parameter-Efficient Prompt Tuning", EMNLP):
``num_virtual_tokens`` trainable embeddings are prepended to every input's token embeddings; the encoder
stays frozen, bit for bit, and only the prompt (and the head) train.

This file also holds what the three prompt methods (prompt tuning, P-tuning, prefix tuning) share: a
wrapper that replaces ``model.encoder`` with the frozen encoder plus a trainable prompt module (peft's
``PromptEmbedding``, ``PromptEncoder`` or ``PrefixEncoder``, used as plain modules: peft's ``PeftModel``
wrappers assume its own task heads). The wrapper extends the attention mask over the virtual positions
(and ``token_type_ids`` with zeros, for pairs), and hands back ``last_hidden_state`` with the virtual
positions removed, so our head pools exactly the real tokens, as for every other strategy, and padding
never changes a prediction. Virtual tokens take the first positions, so real tokens sit
``num_virtual_tokens`` positions later than without a prompt (as in peft); position ids the classifier
passes (a causal decoder's, counted from the mask) are shifted to match.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from peftbench.errors import UserError
from peftbench.strategy import Hyperparameter, Strategy, freeze_encoder

VIRTUAL_TOKENS = Hyperparameter("num_virtual_tokens", 20, 1, 100, log=True, help="number of virtual tokens")


@dataclass
class EncoderOutput:
    """What the head reads of an encoder's output (transformers is not imported at start-up for it)."""

    last_hidden_state: torch.Tensor


class Prompted(nn.Module):
    """A frozen encoder (``base``) with a trainable ``prompt`` module that yields ``num_virtual_tokens``
    virtual positions. Exposes what :class:`peftbench.classifier.SequenceClassifier` needs of an encoder."""

    def __init__(self, encoder: nn.Module, prompt: nn.Module, num_virtual_tokens: int, method: str):
        super().__init__()
        self.base = encoder
        self.prompt = prompt
        self.num_virtual_tokens = num_virtual_tokens
        self.method = method
        self.config = encoder.config
        self.register_buffer("indices", torch.arange(num_virtual_tokens).unsqueeze(0), persistent=False)

    def get_input_embeddings(self) -> nn.Module:
        return self.base.get_input_embeddings()

    def get_base_model(self) -> nn.Module:
        return self.base

    def extend_mask(self, attention_mask: torch.Tensor) -> torch.Tensor:
        """The attention mask with the virtual positions (always attended to) in front."""
        virtual = attention_mask.new_ones(attention_mask.shape[0], self.num_virtual_tokens)
        return torch.cat([virtual, attention_mask], dim=1)

    def shift_positions(self, extra: dict[str, torch.Tensor], virtual: bool) -> None:
        """Position ids the classifier passes (a causal model's, counted from the mask) move past the virtual
        tokens; with ``virtual``, the virtual tokens' own positions 0..P-1 go in front."""
        positions = extra.get("position_ids")
        if positions is None:
            return
        shifted = positions + self.num_virtual_tokens
        if virtual:
            front = torch.arange(self.num_virtual_tokens, device=positions.device).expand(positions.shape[0], -1)
            shifted = torch.cat([front.to(positions.dtype), shifted], dim=1)
        extra["position_ids"] = shifted

    def check_length(self, length: int) -> None:
        limit = getattr(self.config, "max_position_embeddings", None)
        if limit is not None and length + self.num_virtual_tokens > limit:
            raise UserError(f"{self.method}: {self.num_virtual_tokens} virtual tokens + {length} tokens exceed the "
                            f"model's {limit} positions; use fewer virtual tokens or a smaller --max-length")


class InputPrompt(Prompted):
    """Virtual token embeddings prepended to the input embeddings (prompt tuning, P-tuning)."""

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                **extra: torch.Tensor) -> EncoderOutput:
        batch, length = input_ids.shape
        self.check_length(length)
        embeds = self.base.get_input_embeddings()(input_ids)
        virtual = self.prompt(self.indices).to(embeds.dtype).expand(batch, -1, -1)
        if token_type_ids is not None:
            extra["token_type_ids"] = torch.cat([token_type_ids.new_zeros(batch, self.num_virtual_tokens), token_type_ids], 1)
        self.shift_positions(extra, virtual=True)
        hidden = self.base(inputs_embeds=torch.cat([virtual, embeds], dim=1), attention_mask=self.extend_mask(attention_mask),
                           **extra).last_hidden_state
        return EncoderOutput(last_hidden_state=hidden[:, self.num_virtual_tokens:])


class PromptMethod(Strategy):
    """A prompt method: the encoder is frozen and wrapped with a trainable prompt module."""

    family = "prompt"

    def prompt_module(self, encoder: nn.Module) -> nn.Module:
        raise NotImplementedError

    def prepare(self, model, total_steps):
        freeze_encoder(model)
        prompt = self.prompt_module(model.encoder)
        model.encoder = InputPrompt(model.encoder, prompt, self.params["num_virtual_tokens"], self.name)


def embedding_width(encoder: nn.Module) -> int:
    """The width of the encoder's input embeddings (ALBERT's and ELECTRA's are narrower than their hidden size)."""
    return encoder.get_input_embeddings().embedding_dim


class PromptTuning(PromptMethod):
    name = "prompt_tuning"
    paper = """@inproceedings{lester2021power,
  author = {Lester, Brian and Al-Rfou, Rami and Constant, Noah},
  title = {The Power of Scale for Parameter-Efficient Prompt Tuning},
  booktitle = {Proceedings of the 2021 Conference on Empirical Methods in Natural Language Processing (EMNLP)},
  year = {2021}
}"""
    label = "prompt tuning"
    summary = "trainable virtual token embeddings prepended to the input of the frozen encoder"
    learning_rate = Hyperparameter("lr", 3e-2, 3e-3, 3e-1, log=True, help="peak learning rate")
    hyperparameters = (
        VIRTUAL_TOKENS,
        Hyperparameter("init", "sample_vocab", choices=("sample_vocab", "random"),
                       help="start from the embeddings of random vocabulary tokens, or from N(0, 1)"),
    )

    def prompt_module(self, encoder):
        from peft import PromptTuningConfig
        from peft.tuners.prompt_tuning import PromptEmbedding

        config = PromptTuningConfig(num_virtual_tokens=self.params["num_virtual_tokens"], token_dim=embedding_width(encoder),
                                    num_transformer_submodules=1, prompt_tuning_init=self.params["init"].upper())
        return PromptEmbedding(config, encoder.get_input_embeddings())
