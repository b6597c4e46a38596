"""Saving and reloading what a strategy trained: only the trainable tensors, only as safetensors.

For full fine-tuning that is every weight; for LoRA the low-rank matrices and the head; for BitFit the
biases and the head. Reloading (``strategies.load_trained``) rebuilds the model through the same strategy
(pretrained weights, quantisation, wrapping) and loads those tensors on top, so no pickle is ever read.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save

from core.config import TrainConfig
from core.errors import UserError
from core.build import build_model
from core.models import load_tokenizer

WEIGHTS_FILE = "trained.safetensors"
CONFIG_FILE = "train_config.json"


def trainable_state(model) -> dict:
    return {name: p.detach().cpu().contiguous() for name, p in model.named_parameters() if p.requires_grad}


def save_trainable(model, config, strategy, num_labels: int, total_steps: int) -> tuple[int, str | None]:
    """Serialise the trainable tensors; write them (atomically) with what rebuilding the model takes, if
    ``config.output_dir`` is set. Returns (bytes, path)."""
    blob = save(trainable_state(model), metadata={"strategy": strategy.name, "model": config.model})
    if config.output_dir is None:
        return len(blob), None
    folder = Path(config.output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    saved = {"strategy": strategy.name, "strategy_params": strategy.params, "num_labels": num_labels,
             "total_steps": total_steps, "config": config.to_dict()}
    _write_atomic(folder / CONFIG_FILE, json.dumps(saved, indent=2).encode())
    _write_atomic(folder / WEIGHTS_FILE, blob)
    return len(blob), str(folder / WEIGHTS_FILE)


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


@dataclass(frozen=True)
class SavedRun:
    """What a run's output directory says about how to rebuild its model."""

    folder: Path
    strategy: str
    strategy_params: dict[str, Any]
    num_labels: int
    total_steps: int
    config: TrainConfig


def read_saved_run(output_dir: str) -> SavedRun:
    folder = Path(output_dir)
    if not (folder / WEIGHTS_FILE).is_file() or not (folder / CONFIG_FILE).is_file():
        raise UserError(f"{folder} holds no trained run ({WEIGHTS_FILE} and {CONFIG_FILE})")
    try:
        saved = json.loads((folder / CONFIG_FILE).read_text())
        return SavedRun(folder, saved["strategy"], saved["strategy_params"], saved["num_labels"],
                        saved["total_steps"], TrainConfig.from_dict(saved["config"]))
    except (ValueError, KeyError, TypeError) as error:
        raise UserError(f"{folder / CONFIG_FILE} is not a peftbench run configuration ({error})") from None


def rebuild(saved: SavedRun, strategy, device: str = "cpu"):
    """The trained model of ``saved``: rebuilt through ``strategy`` (pretrained weights, quantisation,
    wrapping), the saved tensors loaded on top. Returns (model, tokenizer)."""
    model = build_model(saved.config, strategy, saved.num_labels, saved.total_steps)
    state = load_file(str(saved.folder / WEIGHTS_FILE))
    missing = set(state) - {name for name, _ in model.named_parameters()}
    if missing:
        raise UserError(f"{saved.folder}: saved tensors do not fit the rebuilt model (e.g. {sorted(missing)[0]})")
    model.load_state_dict(state, strict=False)
    return model.to(device).eval(), load_tokenizer(saved.config.model)
