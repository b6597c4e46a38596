"""Saving and reloading what a strategy trained: only the trainable tensors, only as safetensors.

For ``full`` that is every weight; for ``lora`` the LoRA matrices and the head; for ``bitfit`` the
biases and the head. Reloading rebuilds the model through the same strategy (pretrained weights,
quantisation, wrapping) and loads those tensors on top, so no pickle is ever read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from safetensors.torch import load_file, save

WEIGHTS_FILE = "trained.safetensors"
CONFIG_FILE = "train_config.json"


def trainable_state(model) -> dict:
    return {name: p.detach().cpu().contiguous() for name, p in model.named_parameters() if p.requires_grad}


def save_trainable(model, config, output_dir: str | None) -> tuple[int, str | None]:
    """Serialise the trainable tensors; write them (atomically) if ``output_dir`` is set. Returns (bytes, path)."""
    blob = save(trainable_state(model), metadata={"strategy": config.strategy, "model": config.model})
    if output_dir is None:
        return len(blob), None
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomic(folder / CONFIG_FILE, json.dumps(config.to_dict(), indent=2).encode())
    _write_atomic(folder / WEIGHTS_FILE, blob)
    return len(blob), str(folder / WEIGHTS_FILE)


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def load_trained(output_dir: str, device: str = "cpu"):
    """Rebuild a trained model from a run's output directory: (model, tokenizer, TrainConfig)."""
    from core.config import TrainConfig
    from core.errors import UserError
    from core.models import load_tokenizer
    from core.tasks import load_task
    from core.train import build_model
    from strategies import get_strategy

    folder = Path(output_dir)
    if not (folder / WEIGHTS_FILE).is_file() or not (folder / CONFIG_FILE).is_file():
        raise UserError(f"{folder} holds no trained run ({WEIGHTS_FILE} and {CONFIG_FILE})")
    config = TrainConfig.from_dict(json.loads((folder / CONFIG_FILE).read_text()))
    strategy = get_strategy(config.strategy)
    params = strategy.resolve_params(config.strategy_params)
    num_labels = load_task(config.task_request()).spec.num_labels
    model = build_model(config, strategy, params, num_labels)
    state = load_file(str(folder / WEIGHTS_FILE))
    missing = set(state) - {name for name, _ in model.named_parameters()}
    if missing:
        raise UserError(f"{folder}: saved tensors do not fit the rebuilt model (e.g. {sorted(missing)[0]})")
    model.load_state_dict(state, strict=False)
    return model.to(device).eval(), load_tokenizer(config.model), config
