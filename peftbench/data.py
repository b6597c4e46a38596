"""Tokenising once, and batching with dynamic padding.

Every split is tokenised once per (tokenizer, task rows, max length) and kept in memory, so Optuna
trials and seed runs in one process reuse it. Batches are padded to their own longest row, never to
a fixed maximum, and training batches are grouped by length (shuffle, then sort inside buckets of
``BUCKET_BATCHES`` batches, then shuffle the batches) so little compute goes into padding.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from peftbench.columns import Columns
from peftbench.task_types import LABEL_COLUMN, TaskSpec


BUCKET_BATCHES = 50


@dataclass
class EncodedSplit:
    """Token ids per row (unpadded) and labels: everything a batch needs."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.input_ids)

    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.input_ids]

    def tokens(self) -> int:
        return sum(self.lengths())


_ENCODED: dict[tuple, EncodedSplit] = {}


def encode_split(dataset: Columns, spec: TaskSpec, tokenizer, max_length: int) -> EncodedSplit:
    """Tokenise a split without padding; cached in memory for the life of the process."""
    key = (tokenizer.name_or_path, len(tokenizer), dataset.fingerprint, spec.text_columns, max_length)
    if key not in _ENCODED:
        texts = [list(dataset[column]) for column in spec.text_columns]
        encoded = tokenizer(*texts, truncation=True, max_length=max_length, padding=False)
        uses_types = "token_type_ids" in tokenizer.model_input_names and "token_type_ids" in encoded
        label_dtype = torch.float32 if spec.is_regression else torch.long
        _ENCODED[key] = EncodedSplit(
            input_ids=encoded["input_ids"],
            token_type_ids=encoded["token_type_ids"] if uses_types else None,
            labels=torch.tensor(list(dataset[LABEL_COLUMN]), dtype=label_dtype),
        )
    return _ENCODED[key]


def collate(split: EncodedSplit, indices: list[int], pad_id: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Model inputs padded to the batch's longest row, and the batch's labels."""
    width = max(len(split.input_ids[i]) for i in indices)
    ids = torch.full((len(indices), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(indices), width), dtype=torch.long)
    types = torch.zeros((len(indices), width), dtype=torch.long) if split.token_type_ids is not None else None
    for row, i in enumerate(indices):
        n = len(split.input_ids[i])
        ids[row, :n] = torch.tensor(split.input_ids[i])
        mask[row, :n] = 1
        if types is not None:
            types[row, :n] = torch.tensor(split.token_type_ids[i])
    inputs = {"input_ids": ids, "attention_mask": mask}
    if types is not None:
        inputs["token_type_ids"] = types
    return inputs, split.labels[indices]


def length_grouped_batches(lengths: list[int], batch_size: int, seed: int) -> list[list[int]]:
    """One epoch's batches: every index exactly once, similar lengths together, order seeded."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    bucket = batch_size * BUCKET_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), bucket):
        chunk = sorted(order[start:start + bucket], key=lengths.__getitem__, reverse=True)
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def eval_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Batches for evaluation, sorted by length (order does not matter, padding does)."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
