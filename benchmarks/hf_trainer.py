"""Path A: the run as a user would write it with ``transformers.Trainer``, in two settings.

- As a tutorial writes it (``best=False``): tokenise with ``padding="max_length"``, the default collator,
  random batches, the Trainer's default optimizer (fused AdamW in transformers 5 with torch ≥ 2.8).
- At its best (``best=True``): what a user who knows the Trainer turns on: dynamic padding
  (``DataCollatorWithPadding``), length-grouped batches (``train_sampling_strategy="group_by_length"``)
  and ``optim="adamw_torch_fused"``, named so that a change of default cannot slow it.

Both: weight decay off biases and LayerNorms, linear warmup/decay, no evaluation or checkpoints during
training, one prediction pass over dev at the end. What trains is decided exactly as in the core: the same
``SequenceClassifier`` (same seed, same initial weights, same mean-pooling head) prepared by the
strategy (LoRA/QLoRA through ``peft``, adapters and BitFit by ``requires_grad``); only LLRD needs its
param groups handed to the Trainer (``optimizers=``), with a ``torch.optim.AdamW`` as a user writes
(fused at its best).

Splits are tokenised from their columns (``split[column]``) into a list of feature dicts, which the
Trainer takes as a dataset: that works for the core's ``peftbench.columns.Columns`` on a machine without the
datasets library (the GPU check's).
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import (DataCollatorWithPadding, PrinterCallback, Trainer, TrainerCallback, TrainingArguments,
                          default_data_collator)
from transformers import get_linear_schedule_with_warmup
from transformers.modeling_outputs import SequenceClassifierOutput

from benchmarks.measure import TRAINER, TRAINER_BEST, RunMeasurement
from peftbench.config import TrainConfig
from peftbench.costs import PeakMemory
from peftbench.metrics import compute_metrics
from peftbench.build import build_model
from peftbench.classifier import SequenceClassifier
from peftbench.models import load_tokenizer
from peftbench.task_types import LABEL_COLUMN, TaskData
from peftbench.train import loss_function, resolve_device, resolve_precision
from strategies import get_strategy

_TOKENIZED: dict[tuple, list[dict[str, Any]]] = {}


class WithLoss(nn.Module):
    """Our classifier behind the interface Trainer expects: ``labels`` in, ``loss`` and ``logits`` out."""

    def __init__(self, model: SequenceClassifier):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> SequenceClassifierOutput:
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        logits = self.model(input_ids, attention_mask, **extra)
        return SequenceClassifierOutput(loss=None if labels is None else loss_function(logits, labels), logits=logits)


class LoopTimer(TrainerCallback):
    """Times the training loop from the end of its first step to its end: the first step carries the
    Trainer's lazy set-up (accelerate, optimizer state), which would make short timing runs look slower
    than the path really is. (The core's time includes its first step, so this errs in the Trainer's favour;
    at its best the more so, since length grouping puts the longest batch first.)"""

    def __init__(self):
        self.first_step_end = self.end = 0.0
        self.steps = 0

    def on_step_end(self, args, state, control, **kwargs):
        self.steps = state.global_step
        if self.steps == 1:
            self.first_step_end = time.perf_counter()

    def on_train_end(self, args, state, control, **kwargs):
        self.end = time.perf_counter()


def samples_in_steps(rows: int, batch_size: int, steps: int) -> int:
    """Training examples in the first ``steps`` batches of epochs over ``rows`` (each epoch's last batch short)."""
    per_epoch = -(-rows // batch_size)
    epochs, rest = divmod(steps, per_epoch)
    return epochs * rows + min(rest * batch_size, rows)


def tokenized_rows(split, text_columns: tuple[str, ...], tokenizer, max_length: int, pad: bool) -> list[dict[str, Any]]:
    """One feature dict per row (the tokenizer's outputs and ``label``), every row padded to ``max_length``
    when ``pad`` (the tutorial) or left at its own length (for a padding collator). Tokenised once per
    benchmark. ``split`` is a task split (``peftbench.columns.Columns``)."""
    key = (tokenizer.name_or_path, split.fingerprint, text_columns, max_length, pad)
    if key not in _TOKENIZED:
        encoded = tokenizer(*[list(split[c]) for c in text_columns], truncation=True, max_length=max_length,
                            padding="max_length" if pad else False)
        labels = list(split[LABEL_COLUMN])
        _TOKENIZED[key] = [{**{name: values[i] for name, values in encoded.items()}, "label": label}
                           for i, label in enumerate(labels)]
    return _TOKENIZED[key]


def run_trainer(config: TrainConfig, strategy_name: str, data: TaskData, repetition: int,
                max_steps: int | None = None, best: bool = False) -> RunMeasurement:
    """One run through ``transformers.Trainer``, as a tutorial writes it or at its ``best`` (module
    docstring). With ``max_steps`` it is a timing-only run: it stops after that many steps and is not evaluated."""
    wall_started = time.perf_counter()
    strategy = get_strategy(strategy_name)
    lr = config.lr if config.lr is not None else strategy.learning_rate.default
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    tokenizer = load_tokenizer(config.model)
    columns = data.spec.text_columns
    train_set = tokenized_rows(data.train, columns, tokenizer, config.max_length, pad=not best)
    dev_set = tokenized_rows(data.dev, columns, tokenizer, config.max_length, pad=not best)

    total_steps = max_steps or config.epochs * -(-len(train_set) // config.batch_size)
    model = build_model(config, strategy, data.spec.num_labels, total_steps)
    optimizers = (None, None)
    groups = strategy.param_groups(model, lr, config.weight_decay)
    if len({group["lr"] for group in groups}) > 1:  # per-parameter learning rates (LLRD): the Trainer's own can't
        optimizer = torch.optim.AdamW(groups, lr=lr, fused=best)
        optimizers = (optimizer, get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * total_steps),
                                                                 total_steps))
    timer = LoopTimer()
    with tempfile.TemporaryDirectory() as scratch:
        args = TrainingArguments(
            output_dir=scratch, per_device_train_batch_size=config.batch_size,
            per_device_eval_batch_size=config.batch_size * 2, num_train_epochs=config.epochs, max_steps=max_steps or -1,
            learning_rate=lr, weight_decay=config.weight_decay, warmup_steps=config.warmup_ratio,
            lr_scheduler_type="linear", max_grad_norm=config.max_grad_norm, seed=config.seed,
            eval_strategy="no", save_strategy="no", logging_strategy="no", report_to="none", disable_tqdm=True,
            use_cpu=device.type == "cpu", bf16=precision == "bf16", fp16=precision == "fp16",
            **({"train_sampling_strategy": "group_by_length", "optim": "adamw_torch_fused"} if best else {}),
        )
        collator = DataCollatorWithPadding(tokenizer) if best else default_data_collator
        trainer = Trainer(model=WithLoss(model), args=args, train_dataset=train_set, data_collator=collator,
                          optimizers=optimizers, callbacks=[timer])
        trainer.remove_callback(PrinterCallback)  # it prints the final log line; the benchmark reports instead
        memory = PeakMemory(device)
        memory.start()
        trainer.train()
        peak = memory.peak_bytes()
        score = None
        if max_steps is None:
            # with train_sampling_strategy="group_by_length", transformers 5 also length-groups (and shuffles)
            # the evaluation batches (Trainer._get_eval_sampler): predictions come back in that order, so they
            # are scored against the label ids that came back with them, not the dev split's own order
            predicted = trainer.predict(dev_set)
            labels = np.asarray(predicted.label_ids)
            assert sorted(labels.tolist()) == sorted(row["label"] for row in dev_set), "labels lost in predict()"
            score = compute_metrics(predicted.predictions, labels, data.spec.num_labels)[data.spec.metric]
    samples = samples_in_steps(len(train_set), config.batch_size, timer.steps) - config.batch_size
    tokens_per_row = sum(sum(row["attention_mask"]) for row in train_set) / len(train_set)
    return RunMeasurement(
        path=TRAINER_BEST if best else TRAINER, strategy=strategy.name, repetition=repetition, samples=samples,
        tokens=round(samples * tokens_per_row), train_seconds=timer.end - timer.first_step_end,
        wall_seconds=time.perf_counter() - wall_started, peak_memory_bytes=peak, memory_kind=memory.kind,
        metric=data.spec.metric, dev_score=score,
    )
