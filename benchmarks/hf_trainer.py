"""Path A: the run as a user would write it with ``transformers.Trainer``.

What a tutorial does: tokenise with ``padding="max_length"``, the default collator, the Trainer's own
(fused) AdamW with weight decay off biases and LayerNorms, linear warmup/decay, no evaluation or
checkpoints during training. What trains is decided exactly as in the core: the same
``SequenceClassifier`` (same seed, same initial weights, same mean-pooling head) prepared by the
strategy (LoRA/QLoRA through ``peft``, adapters and BitFit by ``requires_grad``); only LLRD needs its
param groups handed to the Trainer (``optimizers=``), with a plain ``torch.optim.AdamW`` as a user writes.
"""

from __future__ import annotations

import tempfile
import time

import datasets
import numpy as np
import torch
from torch import nn
from transformers import PrinterCallback, Trainer, TrainerCallback, TrainingArguments, default_data_collator
from transformers import get_linear_schedule_with_warmup
from transformers.modeling_outputs import SequenceClassifierOutput

from benchmarks.measure import TRAINER, RunMeasurement
from core.config import TrainConfig
from core.costs import PeakMemory
from core.metrics import compute_metrics
from core.build import build_model
from core.models import SequenceClassifier, load_tokenizer
from core.tasks import LABEL_COLUMN, TaskData
from core.train import loss_function, resolve_device, resolve_precision
from strategies import get_strategy

_PADDED: dict[tuple, datasets.Dataset] = {}


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
    than the path really is. (The core's time includes its first step, so this errs in the Trainer's favour.)"""

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


def padded_split(dataset: datasets.Dataset, text_columns: tuple[str, ...], tokenizer, max_length: int) -> datasets.Dataset:
    """Tokenised once per benchmark, every row padded to ``max_length`` (the tutorial default)."""
    key = (tokenizer.name_or_path, dataset._fingerprint, text_columns, max_length)
    if key not in _PADDED:
        def tokenize(batch):
            return tokenizer(*[batch[c] for c in text_columns], padding="max_length", truncation=True,
                             max_length=max_length)

        _PADDED[key] = dataset.map(tokenize, batched=True, remove_columns=list(text_columns))
    return _PADDED[key]


def run_trainer(config: TrainConfig, strategy_name: str, data: TaskData, repetition: int,
                max_steps: int | None = None) -> RunMeasurement:
    """One run through ``transformers.Trainer``. With ``max_steps`` it is a timing-only run: it stops
    after that many steps and is not evaluated."""
    wall_started = time.perf_counter()
    strategy = get_strategy(strategy_name)
    lr = config.lr if config.lr is not None else strategy.learning_rate.default
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    tokenizer = load_tokenizer(config.model)
    columns = data.spec.text_columns
    train_set = padded_split(data.train, columns, tokenizer, config.max_length)
    dev_set = padded_split(data.dev, columns, tokenizer, config.max_length)

    total_steps = max_steps or config.epochs * -(-len(train_set) // config.batch_size)
    model = build_model(config, strategy, data.spec.num_labels, total_steps)
    optimizers = (None, None)
    groups = strategy.param_groups(model, lr, config.weight_decay)
    if len({group["lr"] for group in groups}) > 1:  # per-parameter learning rates (LLRD): the Trainer's own can't
        optimizer = torch.optim.AdamW(groups, lr=lr)
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
        )
        trainer = Trainer(model=WithLoss(model), args=args, train_dataset=train_set, data_collator=default_data_collator,
                          optimizers=optimizers, callbacks=[timer])
        trainer.remove_callback(PrinterCallback)  # it prints the final log line; the benchmark reports instead
        memory = PeakMemory(device)
        memory.start()
        trainer.train()
        peak = memory.peak_bytes()
        score = None
        if max_steps is None:
            logits = trainer.predict(dev_set).predictions
            score = compute_metrics(logits, np.asarray(list(dev_set[LABEL_COLUMN])), data.spec.num_labels)[data.spec.metric]
    samples = samples_in_steps(len(train_set), config.batch_size, timer.steps) - config.batch_size
    tokens_per_row = sum(map(sum, train_set["attention_mask"])) / len(train_set)
    return RunMeasurement(
        path=TRAINER, strategy=strategy.name, repetition=repetition, samples=samples,
        tokens=round(samples * tokens_per_row), train_seconds=timer.end - timer.first_step_end,
        wall_seconds=time.perf_counter() - wall_started, peak_memory_bytes=peak, memory_kind=memory.kind,
        metric=data.spec.metric, dev_score=score,
    )
