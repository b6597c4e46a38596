"""The one training loop every strategy shares, readable top to bottom.

``train`` receives the strategy as an object (``peftbench.strategy.Strategy``) and looks nothing up by name. The
strategy decides how the model is loaded, what trains, with which optimiser and learning rates, and what
happens after each optimiser step (``quantization``, ``prepare``, ``make_optimizer``, ``after_optimizer_step``);
it never sees this loop. A run is:

  load task → tokenise once → seed → build model and let the strategy prepare it →
  (frozen encoder: compute features once and train the head on them) →
  AdamW + linear warmup/decay, clipping, dynamic-padded length-grouped batches →
  evaluate on dev every N steps or per epoch, report to callbacks, keep the best weights, stop early →
  evaluate dev/test with the best weights → save trainable weights as safetensors →
  (if asked) time the trained model as deployed (``peftbench.inference``) → RunResult.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable

import torch
from torch import nn
from tqdm.auto import tqdm

from peftbench import artifacts, features
from peftbench.config import TrainConfig
from peftbench.costs import PeakMemory, current_rss_bytes, device_description, release_freed_memory, versions
from peftbench.data import EncodedSplit, collate, encode_split, eval_batches, length_grouped_batches
from peftbench.errors import MemoryCapExceeded, TrainingDiverged, UserError
from peftbench.inference import measure_inference
from peftbench.metrics import compute_metrics
from peftbench.build import build_model
from peftbench.classifier import FeatureHead, count_parameters
from peftbench.models import load_tokenizer
from peftbench.records import Evaluation, RunResult
from peftbench.strategy import Strategy
from peftbench.task_types import TaskData
from peftbench.tasks import load_task

Callback = Callable[[Evaluation], None]
CHECK_EVERY = 20  # steps between the (synchronising) checks for a finite loss and the memory cap


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {name!r} asked for, but no CUDA GPU is available here; use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from None


def resolve_precision(name: str, device: torch.device) -> str:
    if name != "auto":
        if name != "fp32" and device.type != "cuda":
            raise UserError(f"precision {name} needs a CUDA GPU here; use fp32 on CPU")
        return name
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


class Batches:
    """Where a run's batches come from: token ids through the whole model, or cached features
    through the head alone. The loop below does not care which."""

    def __init__(self, module: nn.Module, splits: dict[str, EncodedSplit], inputs: dict[str, torch.Tensor] | None,
                 pad_id: int, device: torch.device):
        self.module = module
        self.splits = splits
        self.features = inputs  # split name → features, when training on cached features
        self.pad_id = pad_id
        self.device = device

    def get(self, split: str, indices: list[int]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        if self.features is not None:
            rows = torch.tensor(indices)  # index_select on a tensor: several times faster than a list index
            features = self.features[split]  # on the run's device; the labels are on the CPU
            inputs = {"features": features.index_select(0, rows.to(features.device, non_blocking=True))}
            labels = self.splits[split].labels.index_select(0, rows)
        else:
            inputs, labels = collate(self.splits[split], indices, self.pad_id)
        return ({k: v.to(self.device, non_blocking=True) for k, v in inputs.items()},
                labels.to(self.device, non_blocking=True))


def autocast_for(precision: str, device: torch.device) -> Callable[[], contextlib.AbstractContextManager]:
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    return lambda: torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()


def batches_for(model: nn.Module, strategy: Strategy, config: TrainConfig, splits: dict[str, EncodedSplit],
                pad_id: int, device: torch.device, autocast) -> tuple[Batches, dict[str, float]]:
    """Token batches through the whole model, or, for a frozen encoder, cached features through the head.
    Returns the batches and what computing the features cost per split (0 without them)."""
    if not (strategy.encoder_frozen and config.cache_features):
        return Batches(model, splits, None, pad_id, device), {name: 0.0 for name in splits}
    found = features.pooled_features(model, config.model, splits, pad_id, config.batch_size * 4, device, autocast)
    cached = {name: tensor for name, (tensor, _) in found.items()}
    return (Batches(FeatureHead(model), splits, cached, pad_id, device),
            {name: seconds for name, (_, seconds) in found.items()})


def linear_warmup_decay(optimizer: torch.optim.Optimizer, warmup_steps: int,
                        total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """The learning rate rises linearly for ``warmup_steps``, then falls linearly to zero at ``total_steps``:
    BERT's schedule, as transformers' ``get_linear_schedule_with_warmup`` computes it. Written out because
    importing that function pulls in transformers' trainer stack, peft and bitsandbytes (~5 s at every
    start of every command and Optuna worker)."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return step / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def loss_function(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    if outputs.shape[-1] == 1:
        return nn.functional.mse_loss(outputs.squeeze(-1).float(), labels)
    return nn.functional.cross_entropy(outputs.float(), labels)


@dataclass
class Scored:
    """One split scored: its metrics, and each row's prediction (the class, or the score for regression), in the
    split's row order: what the reports' statistics resample (``RunResult.predictions``)."""

    metrics: dict[str, float | None]
    predictions: list[int] | list[float]


@torch.inference_mode()
def evaluate(batches: Batches, split: str, batch_size: int, num_labels: int, autocast) -> Scored:
    was_training = batches.module.training
    batches.module.eval()
    encoded = batches.splits[split]
    outputs = torch.empty((len(encoded), num_labels), dtype=torch.float32)
    for indices in eval_batches(encoded.lengths(), batch_size * 2):
        inputs, _ = batches.get(split, indices)
        with autocast():
            outputs[indices] = batches.module(**inputs).float().cpu()
    batches.module.train(was_training)
    predicted = outputs[:, 0].tolist() if num_labels == 1 else outputs.argmax(-1).tolist()
    return Scored(compute_metrics(outputs.numpy(), encoded.labels.numpy(), num_labels), predicted)


def total_steps(config: TrainConfig, train_rows: int) -> int:
    return min(config.max_steps or math.inf, config.epochs * math.ceil(train_rows / config.batch_size))


def train(config: TrainConfig, strategy: Strategy, callbacks: Iterable[Callback] = (),
          data: TaskData | None = None) -> RunResult:
    """Train one run of ``strategy`` as ``config`` says and return its record. Callbacks may raise to stop it."""
    config.validate()
    lr = config.lr if config.lr is not None else strategy.learning_rate.default
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    data = data if data is not None else load_task(config.task_request())
    spec = data.spec

    # ---- data: tokenised once per process and split
    tokenizer = load_tokenizer(config.model)
    named = {"train": data.train, "dev": data.dev, **({"test": data.test} if data.test is not None else {})}
    splits = {name: encode_split(ds, spec, tokenizer, config.max_length) for name, ds in named.items()}

    # ---- model: the strategy decides what trains
    steps = total_steps(config, len(splits["train"]))
    model = build_model(config, strategy, spec.num_labels, steps).to(device)
    trainable, total = count_parameters(model)
    memory = PeakMemory(device)
    memory.start()
    autocast = autocast_for(precision, device)
    batches, feature_seconds = batches_for(model, strategy, config, splits, tokenizer.pad_token_id, device, autocast)
    module = batches.module

    # ---- optimisation
    optimizer = strategy.make_optimizer(model, lr, config.weight_decay, fused=device.type in ("cpu", "cuda"))
    scheduler = linear_warmup_decay(optimizer, int(config.warmup_ratio * steps), steps)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    lengths = splits["train"].lengths()
    trained = [p for group in optimizer.param_groups for p in group["params"]]

    step = samples = tokens = 0
    best_value, best_state, stale = -math.inf, None, 0
    best_dev, best_step = None, -1  # the best dev evaluation (Scored) and its step
    curve: list[dict[str, float]] = []
    eval_seconds = 0.0
    stopped_early = False
    running_loss = torch.zeros((), device=device)
    progress = tqdm(total=steps, desc=f"{strategy.name} train", unit="step", disable=not config.progress,
                    leave=False, dynamic_ncols=True)
    module.train()
    started = time.perf_counter()
    for epoch in range(config.epochs):
        epoch_batches = length_grouped_batches(lengths, config.batch_size, config.seed * 1000 + epoch)
        for position, indices in enumerate(epoch_batches):
            inputs, labels = batches.get("train", indices)
            with autocast():
                loss = loss_function(module(**inputs), labels)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(trained, config.max_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            step += 1
            strategy.after_optimizer_step(model, step, steps)
            optimizer.zero_grad(set_to_none=True)

            samples += len(indices)
            tokens += sum(lengths[i] for i in indices)
            running_loss += loss.detach()
            progress.update()
            if step % CHECK_EVERY == 0:
                check_health(running_loss / CHECK_EVERY, step, config.memory_cap_mb, device)
                progress.set_postfix(loss=f"{running_loss.item() / CHECK_EVERY:.4f}")
                running_loss.zero_()

            last_step = step >= steps
            end_of_epoch = position == len(epoch_batches) - 1
            if last_step or (config.eval_every and step % config.eval_every == 0) or (not config.eval_every and end_of_epoch):
                eval_started = time.perf_counter()
                dev = evaluate(batches, "dev", config.batch_size, spec.num_labels, autocast)
                eval_seconds += time.perf_counter() - eval_started
                value = dev.metrics[spec.metric]
                curve.append({"step": step, "samples": samples, "epoch": epoch, "value": value})
                if value > best_value:
                    best_value, best_dev, best_step, stale = value, dev, step, 0
                    best_state = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
                else:
                    stale += 1
                for callback in callbacks:
                    callback(Evaluation(step, samples, epoch, dev.metrics, value, last=last_step))
                if config.patience and stale >= config.patience:
                    stopped_early = True
            if last_step or stopped_early:
                break
        if step >= steps or stopped_early:
            break
    progress.close()
    check_health(running_loss / max(step % CHECK_EVERY, 1), step, config.memory_cap_mb, device)
    # a run on cached features is charged what the features cost to compute, even on a cache hit
    train_seconds = time.perf_counter() - started - eval_seconds + feature_seconds["train"]
    eval_seconds += sum(seconds for name, seconds in feature_seconds.items() if name != "train")
    peak = memory.peak_bytes()

    # ---- final evaluation with the best weights, then save what the strategy must save. Dev was scored
    # with exactly these weights when they became the best, and evaluation is deterministic, so that score
    # is kept instead of a second identical pass over dev; only the other splits are evaluated now.
    if best_state is not None and best_step != step:
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if name in best_state:
                    parameter.copy_(best_state[name])
    eval_started = time.perf_counter()
    scored = {name: best_dev if name == "dev" and best_dev is not None else
              evaluate(batches, name, config.batch_size, spec.num_labels, autocast)
              for name in splits if name != "train"}
    eval_seconds += time.perf_counter() - eval_started
    hyperparameters = {"lr": lr, "batch_size": config.batch_size, "epochs": config.epochs,
                       "max_steps": config.max_steps, "warmup_ratio": config.warmup_ratio,
                       "weight_decay": config.weight_decay, "max_grad_norm": config.max_grad_norm,
                       "max_length": config.max_length, "pooling": model.pooling,
                       **({"gradient_checkpointing": True} if config.gradient_checkpointing else {}), **strategy.params}
    artifact_bytes, artifact_path = artifacts.save_trainable(model, config, strategy, spec.num_labels, steps)
    inference = measure_inference(model, splits["dev"], tokenizer.pad_token_id, device, autocast) \
        if config.measure_inference else None
    result = RunResult(
        task=spec.name, model=config.model, strategy=strategy.name, seed=config.seed,
        hyperparameters=hyperparameters, primary_metric=spec.metric,
        metrics={name: split.metrics for name, split in scored.items()},
        predictions={name: split.predictions for name, split in scored.items()},
        trainable_params=trainable, total_params=total, peak_memory_bytes=peak, memory_kind=memory.kind,
        train_seconds=train_seconds, eval_seconds=eval_seconds,
        train_samples_per_second=samples / max(train_seconds, 1e-9), train_samples_seen=samples,
        train_tokens_seen=tokens, steps=step, stopped_early=stopped_early, artifact_bytes=artifact_bytes,
        artifact_path=artifact_path, learning_curve=curve, data_sizes=data.sizes(), data_notes=list(data.notes),
        device=device_description(device), precision=precision, versions=versions(),
        feature_seconds=sum(feature_seconds.values()), strategy_info=strategy.info(), inference=inference,
    )
    del model, module, batches, optimizer, scheduler, best_state
    release_freed_memory()  # the next trial in this process starts clean (transformers#13019)
    return result


def rescore(config: TrainConfig, strategy: Strategy, record: RunResult, data: TaskData) -> RunResult:
    """``record`` of a run that saved its weights in ``config.output_dir`` earlier, completed as if it ran now on
    ``data``: scored on the splits it was not scored on (a tuning trial never sees the held-out split) and timed
    as deployed if ``config`` asks. A seed run that repeats a tuning trial's configuration and seed reuses that
    trial this way: training is deterministic, so this equals training again, for the cost of an evaluation."""
    device = resolve_device(config.device)
    autocast = autocast_for(record.precision, device)
    model, tokenizer = artifacts.rebuild(artifacts.read_saved_run(config.output_dir), strategy, str(device))
    named = {"dev": data.dev, **({"test": data.test} if data.test is not None else {})}
    splits = {name: encode_split(ds, data.spec, tokenizer, config.max_length) for name, ds in named.items()}
    batches, feature_seconds = batches_for(model, strategy, config, splits, tokenizer.pad_token_id, device, autocast)
    started = time.perf_counter()
    scored = {name: evaluate(batches, name, config.batch_size, data.spec.num_labels, autocast)
              for name in splits if name not in record.metrics}
    metrics = {**record.metrics, **{name: split.metrics for name, split in scored.items()}}
    predictions = {**(record.predictions or {}), **{name: split.predictions for name, split in scored.items()}}
    eval_seconds = time.perf_counter() - started + sum(feature_seconds[name] for name in splits if name not in record.metrics)
    inference = measure_inference(model, splits["dev"], tokenizer.pad_token_id, device, autocast) \
        if config.measure_inference else None
    rescored = replace(record, metrics=metrics, predictions=predictions, eval_seconds=record.eval_seconds + eval_seconds, seed=config.seed,
                       data_sizes=data.sizes(), data_notes=list(data.notes), inference=inference,
                       artifact_path=str(Path(config.output_dir) / artifacts.WEIGHTS_FILE))
    del model, batches
    release_freed_memory()
    return rescored


def check_health(mean_loss: torch.Tensor, step: int, memory_cap_mb: int | None, device: torch.device) -> None:
    """The loop's only host syncs: a non-finite loss and the CPU memory cap end the run with a reason."""
    value = float(mean_loss)
    if not math.isfinite(value):
        raise TrainingDiverged(f"loss became {value} by step {step}")
    if memory_cap_mb and device.type == "cpu" and current_rss_bytes() > memory_cap_mb * 2**20:
        raise MemoryCapExceeded(f"process memory {current_rss_bytes() / 2**20:.0f} MiB passed the cap of "
                                f"{memory_cap_mb} MiB at step {step}")

