"""A GLUE task's TSV files read into plain columns, for a machine without the ``datasets`` library.

The lent GPU machine has torch, transformers and peft but not ``datasets``, and reaches no registry, so
the GPU check cannot load data through ``core.tasks.load_task``, whose splits are ``datasets.Dataset``
objects. :class:`Columns` offers what the core (``core.data.encode_split``), stratified subsampling
(``core.tasks.stratified_subset``) and the Trainer path (``benchmarks.hf_trainer``) read from a split: a
column by name, a row by index, the row count, ``select``, and a content ``_fingerprint`` that keys the
tokenisation caches. ``load_glue_columns`` picks the same training rows as ``load_task`` for the same
train size and seed, so a benchmark on either measures the same examples.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.datafiles import read_table
from core.tasks import GLUE_TASKS, LABEL_COLUMN, TaskData, TaskSpec, data_dir_candidates, stratified_subset


class Columns:
    """A split as equal-length column lists (text columns and ``label``)."""

    def __init__(self, columns: dict[str, list[Any]]):
        if len({len(values) for values in columns.values()}) != 1 or LABEL_COLUMN not in columns:
            raise ValueError(f"columns must include {LABEL_COLUMN!r} and have equal lengths")
        self._columns = columns
        self._fingerprint = hashlib.sha256(json.dumps(columns, sort_keys=True).encode()).hexdigest()[:16]

    def __len__(self) -> int:
        return len(self._columns[LABEL_COLUMN])

    def __getitem__(self, key: str | int) -> list[Any] | dict[str, Any]:
        """A column by name, or a row (a dict) by index: as ``datasets.Dataset`` answers."""
        if isinstance(key, str):
            return self._columns[key]
        return {name: values[key] for name, values in self._columns.items()}

    def select(self, indices: list[int]) -> Columns:
        return Columns({name: [values[i] for i in indices] for name, values in self._columns.items()})


def read_split(spec: TaskSpec, path: Path) -> Columns:
    """One GLUE TSV: its text columns and its integer (or, for regression, float) labels."""
    table = read_table(path)
    missing = [name for name in (*spec.text_columns, LABEL_COLUMN) if name not in table]
    if missing:
        raise UserError(f"{path}: no column {missing[0]!r}")
    parse = float if spec.is_regression else int
    labels = []
    for line, value in enumerate(table[LABEL_COLUMN], start=2):
        try:
            labels.append(parse(value))
        except ValueError:
            raise UserError(f"{path}:{line}: label {value!r} is not a {parse.__name__}") from None
    return Columns({**{name: table[name] for name in spec.text_columns}, LABEL_COLUMN: labels})


def load_glue_columns(task: str, data_dir: str | None, train_size: int | None, seed: int) -> TaskData:
    """A GLUE task's train and dev splits from ``<data dir>/<task>/{train,dev}.tsv`` (searched as
    ``load_task`` searches), with a stratified, seeded training subset of ``train_size`` rows."""
    if task not in GLUE_TASKS:
        raise UserError(f"--plain-columns reads GLUE tasks only ({', '.join(sorted(GLUE_TASKS))}), not {task!r}")
    spec = GLUE_TASKS[task]
    candidates = data_dir_candidates(data_dir)
    folder = next((root / task for root in candidates
                   if (root / task / "train.tsv").is_file() and (root / task / "dev.tsv").is_file()), None)
    if folder is None:
        raise UserError(f"no {task}/train.tsv and {task}/dev.tsv under {', '.join(map(str, candidates))}")
    train, dev = read_split(spec, folder / "train.tsv"), read_split(spec, folder / "dev.tsv")
    data = TaskData(spec, train, dev, source=f"{folder} (plain columns)", full_train_size=len(train))
    if train_size is not None and train_size < len(train):
        data.train = stratified_subset(train, train_size, seed)
    return data
