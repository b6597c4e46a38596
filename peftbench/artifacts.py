"""Saving and reloading what a strategy trained: only the trainable tensors, only as safetensors.

For full fine-tuning that is every weight; for LoRA the low-rank matrices and the head; for BitFit the
biases and the head. Reloading (``strategies.load_trained``) rebuilds the model through the same strategy
(pretrained weights, quantisation, wrapping) and loads those tensors on top, so no pickle is ever read.

Beside them, so a trained model can be used without peftbench (README, "Deploy a chosen strategy"):

- ``head.safetensors`` (``classifier.weight``, ``classifier.bias``) and ``head.json`` (format
  ``peftbench-head``: pooling, causal, num_labels, label names, max length, base model): our head, which
  is pooling over the encoder's ``last_hidden_state`` then ``logits = pooled @ weight.T + bias``;
- ``adapter/``, for every strategy whose encoder is a ``peft.PeftModel``: the standard peft adapter folder
  (``adapter_config.json`` + ``adapter_model.safetensors``) that ``PeftModel.from_pretrained(
  AutoModel.from_pretrained(base), "adapter")`` loads. What the strategy declares of the base weights
  (``Strategy.base_weights``) decides the rest: an adapter over a rewritten residual (PiSSA, OLoRA) is saved
  converted to a plain LoRA on the untouched base (peft's ``path_initial_model_for_weight_conversion``, rank
  doubled); one over weights rewritten in a way no adapter on the untouched base reproduces (KaSA's truncation)
  is not written at all, since it would load to other predictions: such a model exports merged. A quantised
  base (QLoRA, QDoRA) must be loaded quantised the same way: ``head.json`` carries the quantisation config.
"""

from __future__ import annotations

import contextlib
import json
import random
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from safetensors.torch import load_file, save

from peftbench.config import TrainConfig
from peftbench.errors import UserError
from peftbench.layout import staged_directory, write_atomic
from peftbench.build import build_model
from peftbench.models import load_tokenizer, resolve_model

WEIGHTS_FILE = "trained.safetensors"
CONFIG_FILE = "train_config.json"
HEAD_WEIGHTS = "head.safetensors"
HEAD_CONFIG = "head.json"
ADAPTER_DIR = "adapter"
HEAD_FORMAT = "peftbench-head"
HEAD_FORMAT_VERSION = 1


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
    write_atomic(folder / CONFIG_FILE, json.dumps(saved, indent=2).encode())
    write_atomic(folder / WEIGHTS_FILE, blob)
    write_head(folder, model, config, strategy.name, num_labels)
    if is_peft_encoder(model.encoder) and strategy.base_weights != "rewritten":
        write_adapter(folder / ADAPTER_DIR, model, strategy.base_weights,
                      lambda: build_model(config, strategy, num_labels, total_steps))
    return len(blob), str(folder / WEIGHTS_FILE)


# ---------------------------------------------------------------------------- files usable without peftbench
def is_peft_encoder(encoder) -> bool:
    """Whether the encoder is a ``peft.PeftModel`` (peft is imported already if a strategy wrapped with it)."""
    peft = sys.modules.get("peft") if hasattr(encoder, "peft_config") else None
    return peft is not None and isinstance(encoder, peft.PeftModel)


def base_encoder(encoder):
    """The transformers model under a peft wrapper (or the encoder itself)."""
    return encoder.get_base_model() if is_peft_encoder(encoder) else encoder


def quantization_of(encoder) -> dict[str, Any] | None:
    """The quantisation config the encoder was loaded with (transformers records it on the model config)."""
    quantization = getattr(getattr(base_encoder(encoder), "config", None), "quantization_config", None)
    if quantization is None:
        return None
    values = quantization if isinstance(quantization, dict) else quantization.to_dict()
    return json.loads(json.dumps(values, default=str))  # dtypes and the like as strings


def head_record(model, config: TrainConfig, strategy: str, num_labels: int,
                label_names: list[str] | None = None) -> dict[str, Any]:
    """``head.json``: everything that turns the encoder's ``last_hidden_state`` into our predictions."""
    from peftbench.task_types import GLUE_TASKS

    spec = GLUE_TASKS.get(config.task)
    if label_names is None and spec is not None and spec.label_names:
        label_names = list(spec.label_names)
    return {
        "format": HEAD_FORMAT,
        "format_version": HEAD_FORMAT_VERSION,
        "strategy": strategy,
        "base_model": config.model,
        "base_model_path": resolve_model(config.model),
        "pooling": model.pooling,  # mean | cls | last (the last real token)
        "causal": bool(model.causal),  # pass position_ids = cumsum(mask) - 1, clamped at 0
        "num_labels": num_labels,
        "problem_type": "regression" if num_labels == 1 else "single_label_classification",
        "label_names": label_names or None,
        "text_columns": list(spec.text_columns if spec is not None else config.text_columns) or None,
        "max_length": config.max_length,
        "quantization": quantization_of(model.encoder),
        "weights": {"file": HEAD_WEIGHTS, "weight": "classifier.weight", "bias": "classifier.bias"},
    }


def head_tensors(model) -> dict:
    return {f"classifier.{name}": p.detach().float().cpu().contiguous() for name, p in model.classifier.named_parameters()}


def write_head(folder: Path, model, config: TrainConfig, strategy: str, num_labels: int,
               label_names: list[str] | None = None) -> None:
    """``head.safetensors`` + ``head.json`` in ``folder`` (atomically)."""
    write_head_files(folder, head_record(model, config, strategy, num_labels, label_names), head_tensors(model))


def write_head_files(folder: Path, record: dict[str, Any], tensors: dict) -> None:
    write_atomic(Path(folder) / HEAD_WEIGHTS, save(tensors, metadata={"format": "pt"}))
    write_atomic(Path(folder) / HEAD_CONFIG, (json.dumps(record, indent=2) + "\n").encode())


def write_adapter(target: Path, model, base_weights: str, initial_model=None) -> None:
    """The standard peft adapter folder of ``model.encoder`` at ``target``, replacing any earlier one.

    ``base_weights`` is the strategy's declaration (``peftbench.strategy.BASE_WEIGHTS``). Over a residual, the adapter
    is converted to a LoRA on the untouched base: ``initial_model()`` rebuilds the model as it was before training
    (seeded, so bit for bit) and peft subtracts its initial adapter (``path_initial_model_for_weight_conversion``).
    Over rewritten weights no adapter reproduces the model on the untouched base: one line says so."""
    if base_weights == "rewritten":
        raise UserError("this strategy rewrites the pretrained weights at initialisation in a way no adapter on the "
                        "untouched base reproduces, so it has no adapter to export; export it with --merge")
    with staged_directory(Path(target)) as staging, tempfile.TemporaryDirectory(prefix="peftbench-adapter-") as scratch:
        options = {}
        if base_weights == "residual":
            if initial_model is None:
                raise UserError("this adapter rewrote its base weights at initialisation; converting it needs the "
                                "initial model")
            with preserved_random_state():
                initial = initial_model()
            initial.encoder.save_pretrained(Path(scratch) / "initial")
            del initial
            options["path_initial_model_for_weight_conversion"] = str(Path(scratch) / "initial")
        model.encoder.save_pretrained(str(staging), **options)


@contextlib.contextmanager
def preserved_random_state() -> Iterator[None]:
    """Run a (seeding) model build without moving the caller's random number generators."""
    import numpy as np
    import torch

    state = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            random.setstate(state[0])
            np.random.set_state(state[1])


def read_head(folder: Path) -> tuple[dict[str, Any], dict]:
    """(``head.json``, head tensors) of a run or export folder."""
    folder = Path(folder)
    try:
        record = json.loads((folder / HEAD_CONFIG).read_text())
        if record.get("format") != HEAD_FORMAT:
            raise ValueError(f"format is {record.get('format')!r}")
        return record, load_file(str(folder / HEAD_WEIGHTS))
    except Exception as error:  # noqa: BLE001 — OSError, ValueError, safetensors' own error: one line either way
        raise UserError(f"{folder} holds no readable peftbench head ({HEAD_CONFIG}, {HEAD_WEIGHTS}): {error}") from None


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
