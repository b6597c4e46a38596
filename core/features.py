"""Pooled encoder features for strategies whose encoder never changes (``frozen``).

Computed once per (encoder weights, pooling, tokenised rows) and kept in memory and on disk under a
content hash, so every Optuna trial and seed run after the first trains only the head.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from core.data import EncodedSplit, collate, eval_batches

CACHE_ENV = "PEFTBENCH_CACHE_DIR"
_MEMORY: dict[str, tuple[torch.Tensor, float]] = {}


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "peftbench")) / "features"


def content_key(model, split: EncodedSplit) -> str:
    """A hash of everything the features depend on: encoder weights, pooling and the token ids."""
    digest = hashlib.sha256(model.pooling.encode())
    for name, tensor in sorted(model.encoder.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
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


def pooled_features(model, model_name: str, split: EncodedSplit, pad_id: int, batch_size: int,
                    device: torch.device, autocast) -> tuple[torch.Tensor, float]:
    """Features for every row of ``split`` (on ``device``), from memory, the disk cache, or computed
    now, and the seconds computing them took (when they were computed, also for a cache hit): a run
    on cached features still reports what the features cost."""
    key = content_key(model, split)
    if key not in _MEMORY:
        path = cache_dir() / f"{key}.safetensors"
        if path.is_file():
            with safe_open(str(path), framework="pt") as handle:
                _MEMORY[key] = (handle.get_tensor("features"), float(handle.metadata().get("seconds", 0.0)))
        else:
            started = time.perf_counter()
            computed = compute(model, split, pad_id, batch_size, device, autocast)
            _MEMORY[key] = (computed, time.perf_counter() - started)
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            save_file({"features": computed}, str(temporary),
                      metadata={"model": model_name, "seconds": f"{_MEMORY[key][1]:.6f}"})
            os.replace(temporary, path)  # atomic: a killed run never leaves a half-written cache entry
    features, seconds = _MEMORY[key]
    return features.to(device), seconds
