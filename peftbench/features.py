"""Pooled encoder features for strategies whose encoder never changes (``frozen``).

Computed once per (encoder weights, pooling, tokenised rows) and kept in memory and on disk under a
content hash, so every Optuna trial and seed run after the first trains only the head.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save

from peftbench.data import EncodedSplit, collate, eval_batches
from peftbench.layout import write_atomic

CACHE_ENV = "PEFTBENCH_CACHE_DIR"
_MEMORY: dict[str, tuple[torch.Tensor, float]] = {}


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "peftbench")) / "features"


def weights_digest(model) -> Any:  # a hashlib sha256 object
    """A hash of what every split's features depend on besides its rows: encoder weights and pooling.
    Hashing 90 MB of weights is the slow part, so it is done once per run and copied per split."""
    digest = hashlib.sha256(model.pooling.encode())
    for name, tensor in sorted(model.encoder.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest


def content_key(weights: Any, split: EncodedSplit) -> str:
    """The cache key of one split's features: the weights' digest extended with the split's token ids."""
    digest = weights.copy()
    for ids in split.input_ids:
        digest.update(len(ids).to_bytes(4, "little"))
        digest.update(torch.tensor(ids, dtype=torch.int32).numpy().tobytes())
    if split.token_type_ids is not None:
        for types in split.token_type_ids:
            digest.update(bytes(types))
    return digest.hexdigest()[:32]


@torch.inference_mode()
def compute(model, split: EncodedSplit, pad_id: int, batch_size: int, device: torch.device, autocast) -> torch.Tensor:
    model.eval()
    out = torch.empty((len(split), model.encoder.config.hidden_size), dtype=torch.float32)
    for indices in eval_batches(split.lengths(), batch_size):
        inputs, _ = collate(split, indices, pad_id)
        with autocast():
            out[indices] = model.encode(**{k: v.to(device) for k, v in inputs.items()}).float().cpu()
    return out


def pooled_features(model, model_name: str, splits: dict[str, EncodedSplit], pad_id: int, batch_size: int,
                    device: torch.device, autocast) -> dict[str, tuple[torch.Tensor, float]]:
    """Features for every row of each split (on ``device``), from memory, the disk cache, or computed
    now, and the seconds computing them took (when they were computed, also for a cache hit): a run
    on cached features still reports what the features cost."""
    weights = weights_digest(model)
    found = {}
    for name, split in splits.items():
        key = content_key(weights, split)
        if key not in _MEMORY:
            _MEMORY[key] = _load_or_compute(key, model, model_name, split, pad_id, batch_size, device, autocast)
        features, seconds = _MEMORY[key]
        found[name] = (features.to(device), seconds)
    return found


def _load_or_compute(key: str, model, model_name: str, split: EncodedSplit, pad_id: int, batch_size: int,
                     device: torch.device, autocast) -> tuple[torch.Tensor, float]:
    path = cache_dir() / f"{key}.safetensors"
    if path.is_file():
        with safe_open(str(path), framework="pt") as handle:
            return handle.get_tensor("features"), float(handle.metadata().get("seconds", 0.0))
    started = time.perf_counter()
    computed = compute(model, split, pad_id, batch_size, device, autocast)
    seconds = time.perf_counter() - started
    path.parent.mkdir(parents=True, exist_ok=True)
    # atomic: a killed run never leaves a half-written cache entry
    write_atomic(path, save({"features": computed}, metadata={"model": model_name, "seconds": f"{seconds:.6f}"}))
    return computed, seconds
