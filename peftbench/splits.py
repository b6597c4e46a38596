"""Choosing rows: seeded, stratified samples of a split, nested training subsets, and a split cut in two.
Deterministic in the seed, so every process of a comparison draws the same rows."""

from __future__ import annotations

import math
import random
from collections import defaultdict

from peftbench.columns import Columns
from peftbench.errors import UserError
from peftbench.task_types import LABEL_COLUMN


def _label_groups(dataset: Columns, stratify: bool) -> list[list[int]]:
    if not stratify:
        return [list(range(len(dataset)))]
    groups: dict[object, list[int]] = defaultdict(list)
    for index, label in enumerate(list(dataset[LABEL_COLUMN])):
        groups[label].append(index)
    return [groups[key] for key in sorted(groups)]


def stratified_indices(dataset: Columns, size: int, seed: int, stratify: bool = True) -> list[int]:
    """``size`` row indices drawn without replacement, keeping label proportions; deterministic in ``seed``."""
    rng = random.Random(seed)
    groups = _label_groups(dataset, stratify)
    total = len(dataset)
    quotas = [math.floor(size * len(g) / total) for g in groups]
    # hand the rounding remainder to the groups with the largest fractional parts
    remainders = sorted(range(len(groups)), key=lambda i: size * len(groups[i]) / total - quotas[i], reverse=True)
    for i in remainders[: size - sum(quotas)]:
        quotas[i] += 1
    chosen: list[int] = []
    for group, quota in zip(groups, quotas):
        chosen.extend(rng.sample(group, quota))
    return sorted(chosen)


def nested_indices(dataset: Columns, size: int, seed: int, stratify: bool = True) -> list[int]:
    """``size`` row indices keeping label proportions (up to rounding), drawn so that with the same seed a
    smaller subsample is part of every larger one, as a learning curve's training sets should be: each label's
    rows in one seeded order, the i-th of a label's n rows placed at (i + 0.5) / n, and the first ``size`` of
    all rows by place taken."""
    rng = random.Random(seed)
    placed: list[tuple[float, int]] = []
    for group in _label_groups(dataset, stratify):
        order = list(group)
        rng.shuffle(order)
        placed += [((i + 0.5) / len(order), index) for i, index in enumerate(order)]
    return sorted(index for _, index in sorted(placed)[:size])


def stratified_subset(dataset: Columns, size: int, seed: int) -> Columns:
    """The training subsample (``--train-size``): nested, so a data-size sweep's sizes share their examples."""
    stratify = isinstance(dataset[0][LABEL_COLUMN], int)
    return dataset.select(nested_indices(dataset, size, seed, stratify))


def split_off(dataset: Columns, fraction: float | None = None, seed: int = 0, stratify: bool = True,
              size: int | None = None) -> tuple[Columns, Columns]:
    """Split into (rest, part) with ``part`` a seeded, stratified sample of ``size`` rows (or ``fraction``)."""
    size = size if size is not None else max(1, round(len(dataset) * (fraction or 0)))
    if not 0 < size < len(dataset):
        raise UserError(f"cannot split {size} rows off a split of {len(dataset)} rows")
    part = set(stratified_indices(dataset, size, seed, stratify))
    rest = [i for i in range(len(dataset)) if i not in part]
    return dataset.select(rest), dataset.select(sorted(part))
