"""The one classification head every strategy shares, on top of the encoder.

The head is ours, not ``AutoModelForSequenceClassification``'s, for three reasons: it is the same
module (``classifier``) for every architecture, so strategies can name it; it can pool by mean over
tokens, which suits sentence-transformers checkpoints such as the default MiniLM (whose BERT pooler
was never trained); and a frozen encoder's pooled features can be cached and the head trained on
them alone. Decoder-only models pool their last real token (what HF's ``*ForSequenceClassification``
does for them): in a causal model only that token has seen the whole input.
"""

from __future__ import annotations

import torch
from torch import nn

from peftbench.errors import UserError
from peftbench.models import POOLINGS


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
