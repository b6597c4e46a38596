"""A task's splits as a comparison uses them: read (``peftbench.task_files``), then carved and subsampled as the
request says, and refused when too small to measure anything.

A named GLUE task resolves to a local directory in GLUE layout first, then to the Hugging Face hub. Anything
else given as ``--task`` is a path to the user's own CSV/TSV/JSONL file or to a directory holding ``train.*``
and ``dev.*``/``test.*`` files.

Splits too small to measure anything are refused when the task is loaded, with one line naming the sizes:
training needs rows of at least 2 classes (2 different values for regression), and dev and the held-out
split need what the task's primary metric needs (``peftbench.metrics``): a row for accuracy; rows of 2 classes
for MCC; a positive row for F1; a row of every class for macro F1; at least 3 rows with labels that are not
all equal for Pearson and Spearman.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from peftbench.datafiles import SUFFIXES
from peftbench.errors import UserError
from peftbench.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS, undefined_reason
from peftbench.records import CARVED, DEV_FILE, SplitSources
from peftbench.splits import split_off, stratified_subset
from peftbench.task_files import RowProblems, load_custom, load_glue, looks_like_path
from peftbench.task_types import GLUE_TASKS, LABEL_COLUMN, TaskData, TaskSpec, task_names

# How a task without a labelled test split gets a held-out split (``TaskRequest.carve_size`` rows carved from train):
# - dev-from-train: the protocol of small-budget papers (UniPELT, Mao et al. 2022; Chen et al. 2022): dev is carved
#   from train for selection and pruning, and the official dev set is the held-out test. It matches the test
#   distribution where train differs from dev/test (SST-2's train holds treebank phrases, dev whole sentences).
# - heldout-from-train: the held-out split is carved from train and the official dev set selects.
# A task with its own labelled test split, or without a dev file (dev already carved from train), ignores the choice.
DEV_FROM_TRAIN, HELDOUT_FROM_TRAIN = "dev-from-train", "heldout-from-train"
PROTOCOLS = (DEV_FROM_TRAIN, HELDOUT_FROM_TRAIN)
TEST_FILE = "test-file"  # TaskData.protocol of a task with its own labelled test split
MIN_TRAIN_SIZE = 2  # a classifier needs rows of two classes to learn from


@dataclass(frozen=True)
class TaskRequest:
    """How the user named a task, plus the options that decide which rows are used."""

    task: str
    data_dir: str | None = None
    text_columns: tuple[str, ...] = ()
    label_column: str = LABEL_COLUMN
    train_size: int | None = None  # stratified, seeded subsample of train
    carve_size: int | None = None  # rows carved from train for the split a task without a labelled test lacks
    protocol: str = DEV_FROM_TRAIN  # which split the carved rows become (PROTOCOLS)
    seed: int = 0
    drop_invalid_rows: bool = False  # leave out (and count) rows with an empty text or a bad label instead of refusing
    metric: str | None = None  # the primary metric instead of the task's own (--metric)


def load_task(request: TaskRequest) -> TaskData:
    """Load a task's splits, then subsample / carve a held-out split as the request says."""
    problems = RowProblems(request.drop_invalid_rows)
    if request.task in GLUE_TASKS:
        data = load_glue(GLUE_TASKS[request.task], request.data_dir, problems)
    elif looks_like_path(request.task):
        data = load_custom(Path(request.task), request.text_columns, request.label_column, request.drop_invalid_rows,
                           request.seed, problems)
    else:
        raise UserError(
            f"unknown task {request.task!r}: use a GLUE task ({', '.join(task_names())}) "
            f"or a path to a {'/'.join(s[1:] for s in SUFFIXES)} file or a directory of them"
        )
    if request.train_size is not None and request.train_size < MIN_TRAIN_SIZE:
        raise UserError(f"train size must be at least {MIN_TRAIN_SIZE}, got {request.train_size}")
    if request.metric is not None:
        data.spec = replace(data.spec, metric=checked_metric(request.metric, data.spec), metric_reason="--metric")
    data.dropped_rows = problems.counts
    data.notes += problems.notes()
    if request.protocol not in PROTOCOLS:
        raise UserError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {request.protocol!r}")
    if data.test is not None:
        data.protocol = TEST_FILE
    test_carved = bool(request.carve_size) and data.test is None
    if test_carved and request.protocol == DEV_FROM_TRAIN and not data.dev_carved:
        data = carve_dev(data, request.carve_size, request.seed)
    elif test_carved:
        data = carve_heldout(data, request.carve_size, request.seed)
    data.full_train_size = len(data.train)
    if request.train_size is not None:
        if request.train_size > len(data.train):
            data.notes.append(f"asked for {request.train_size} training examples; the task has {len(data.train)}, all used")
        else:
            data.train = stratified_subset(data.train, request.train_size, request.seed)
    check_measurable(data, test_carved, subsampled=request.train_size is not None)
    return data


def checked_metric(metric: str, spec: TaskSpec) -> str:
    """``--metric``: one of the metrics a task of this kind can be selected on (higher is better)."""
    allowed = [m for m in (REGRESSION_METRICS if spec.is_regression else CLASSIFICATION_METRICS) if m != "mse"]
    if metric not in allowed:
        kind = "regression" if spec.is_regression else "classification"
        raise UserError(f"--metric {metric}: a {kind} task is selected on one of {', '.join(allowed)}")
    return metric


def check_measurable(data: TaskData, test_carved: bool = False, subsampled: bool = False) -> None:
    """Refuse splits too small to measure anything (module docstring): one line naming the sizes."""
    spec = data.spec
    sizes = ", ".join(f"{name} {size:,}" for name, size in data.sizes().items())

    def refuse(split: str, rows: int, need: str, advice: str) -> None:
        raise UserError(f"{split} has {rows:,} row{'s' if rows != 1 else ''} ({sizes}); {need}: {advice}")

    train_labels = list(data.train[LABEL_COLUMN])
    if len(set(train_labels)) < 2:
        advice = ["give more training rows"]
        if data.dev_carved:
            advice.append("a dev file (dev is carved from the train file)")
        if test_carved:
            advice.append("a smaller --carve-size")
        if subsampled:
            advice.append("a larger --train-size")
        need = ("a regressor needs rows with at least 2 different labels to learn from" if spec.is_regression else
                "a classifier needs rows of at least 2 classes to learn from")
        refuse("train", len(train_labels), need, " or ".join(advice))
    for split, dataset in (("dev", data.dev), ("test", data.test)):
        if dataset is None:
            continue
        labels = list(dataset[LABEL_COLUMN])
        reason = undefined_reason(spec.metric, labels, spec.num_labels, spec.label_names)
        if reason is not None:
            if split == "dev" and data.protocol == DEV_FROM_TRAIN:
                advice = "raise --carve-size"
            elif split == "dev":
                advice = "give a dev file or more training rows" if data.dev_carved else "add rows to the dev file"
            elif data.protocol == DEV_FROM_TRAIN:
                advice = "add rows to the dev file (the held-out split), or pass --protocol heldout-from-train"
            else:
                advice = "raise --carve-size or give a test file" if test_carved else "add rows to the test file"
            refuse("held-out split (test)" if split == "test" else split, len(labels), reason, advice)


def carve_heldout(data: TaskData, size: int, seed: int) -> TaskData:
    """Protocol heldout-from-train: the held-out split is carved from train (seeded, stratified)."""
    train, test = split_off(data.train, size=size, seed=seed, stratify=not data.spec.is_regression)
    return replace(data, train=train, test=test, splits=replace(data.splits, heldout=CARVED, seed=seed),
                   protocol=HELDOUT_FROM_TRAIN)


def carve_dev(data: TaskData, size: int, seed: int) -> TaskData:
    """Protocol dev-from-train: dev is carved from train (seeded, stratified) and the dev file becomes the
    held-out split, so held-out scores come from the test distribution."""
    train, dev = split_off(data.train, size=size, seed=seed, stratify=not data.spec.is_regression)
    return replace(data, train=train, dev=dev, test=data.dev, splits=SplitSources(dev=CARVED, heldout=DEV_FILE, seed=seed),
                   protocol=DEV_FROM_TRAIN)
