"""Tasks: what the inputs and labels are, how a task is scored, and where its data comes from.

A named GLUE task resolves to a local directory in GLUE layout first (``<dir>/<task>/train.tsv``
and ``dev.tsv``, columns named as the Hugging Face ``glue`` data set names them), then to the
Hugging Face hub. Anything else given as ``--task`` is a path to the user's own CSV/TSV/JSONL file
or to a directory holding ``train.*`` and ``dev.*``/``test.*`` files.

A row with a problem of its own (an empty text cell, a missing label, a label that is not a number or not
one of the classes) refuses the whole file, naming the line, unless ``drop_invalid_rows`` is set
(``--drop-invalid-rows``): then such rows are left out and counted by reason per file
(``TaskData.dropped_rows``, and a note in ``TaskData.notes``). A problem with the file itself (not UTF-8,
a bad header, a row with the wrong number of fields) always refuses it.

Splits too small to measure anything are refused when the task is loaded, with one line naming the sizes:
training needs rows of at least 2 classes (2 different values for regression), and dev and the held-out
split need what the task's primary metric needs (``core.metrics``): a row for accuracy; rows of 2 classes
for MCC; a positive row for F1; a row of every class for macro F1; at least 3 rows with labels that are not
all equal for Pearson and Spearman.
"""

from __future__ import annotations

import math
import os
import random
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import UserError
from core.metrics import undefined_reason
from core.datafiles import SUFFIXES, names, read_table
from core.records import CARVED, DEV_FILE, TEST_FILE_SOURCE, SplitSources

if TYPE_CHECKING:  # imported where used: the GPU check runs the core without the datasets library
    import datasets

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_ENV = "PEFTBENCH_DATA_DIR"
# Searched in order when neither --data-dir nor $PEFTBENCH_DATA_DIR is given. The second entry is
# the shared data folder that sits beside a checkout on the development machines.
DEFAULT_DATA_DIRS = (PROJECT_ROOT / "data", PROJECT_ROOT.parent / "shared" / "data")
LABEL_COLUMN = "label"
DROP_HINT = "pass --drop-invalid-rows to drop such rows"
MISSING_LABELS = ("", "nan", "none", "null", "na")  # a label cell holding one of these (any case) has no label
# How a task without a labelled test split gets a held-out split (``TaskRequest.carve_size`` rows carved from train):
# - dev-from-train: the protocol of small-budget papers (UniPELT, Mao et al. 2022; Chen et al. 2022): dev is carved
#   from train for selection and pruning, and the official dev set is the held-out test. It matches the test
#   distribution where train differs from dev/test (SST-2's train holds treebank phrases, dev whole sentences).
# - heldout-from-train: the held-out split is carved from train and the official dev set selects.
# A task with its own labelled test split, or without a dev file (dev already carved from train), ignores the choice.
DEV_FROM_TRAIN, HELDOUT_FROM_TRAIN = "dev-from-train", "heldout-from-train"
PROTOCOLS = (DEV_FROM_TRAIN, HELDOUT_FROM_TRAIN)
TEST_FILE = "test-file"  # TaskData.protocol of a task with its own labelled test split


@dataclass(frozen=True)
class TaskSpec:
    """What a task looks like: its text columns, its labels and its metric."""

    name: str
    text_columns: tuple[str, ...]
    num_labels: int  # 1 means regression
    metric: str  # the primary metric, used for model selection
    label_names: tuple[str, ...] = ()
    hub_dev_split: str = "validation"

    @property
    def is_regression(self) -> bool:
        return self.num_labels == 1


GLUE_TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec("cola", ("sentence",), 2, "mcc", ("unacceptable", "acceptable")),
        TaskSpec("sst2", ("sentence",), 2, "accuracy", ("negative", "positive")),
        TaskSpec("mrpc", ("sentence1", "sentence2"), 2, "f1", ("not_equivalent", "equivalent")),
        TaskSpec("qqp", ("question1", "question2"), 2, "f1", ("not_duplicate", "duplicate")),
        TaskSpec("stsb", ("sentence1", "sentence2"), 1, "pearson"),
        TaskSpec("mnli", ("premise", "hypothesis"), 3, "accuracy", ("entailment", "neutral", "contradiction"), "validation_matched"),
        TaskSpec("qnli", ("question", "sentence"), 2, "accuracy", ("entailment", "not_entailment")),
        TaskSpec("rte", ("sentence1", "sentence2"), 2, "accuracy", ("entailment", "not_entailment")),
        TaskSpec("wnli", ("sentence1", "sentence2"), 2, "accuracy", ("not_entailment", "entailment")),
    )
}


@dataclass
class TaskData:
    """A task's splits as ``datasets.Dataset`` objects with the text columns and an integer/float ``label``."""

    spec: TaskSpec
    train: datasets.Dataset
    dev: datasets.Dataset
    test: datasets.Dataset | None = None
    source: str = ""
    notes: list[str] = field(default_factory=list)  # what else is worth saying: dropped rows, a capped train size
    full_train_size: int = 0  # training rows available before any subsampling
    dropped_rows: dict[str, dict[str, int]] = field(default_factory=dict)  # file (train/dev/test) → reason → rows
    splits: SplitSources = SplitSources(dev=DEV_FILE, heldout=None)  # where dev and held-out come from
    protocol: str = ""  # where held-out comes from: one of PROTOCOLS, TEST_FILE, or "" (no held-out split)

    @property
    def dev_carved(self) -> bool:
        """Dev is a part of the train file (no dev file, or the dev-from-train protocol)."""
        return self.splits.dev == CARVED

    def sizes(self) -> dict[str, int]:
        sizes = {"train": len(self.train), "dev": len(self.dev)}
        if self.test is not None:
            sizes["test"] = len(self.test)
        return sizes


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


def task_names() -> list[str]:
    return sorted(GLUE_TASKS)


def load_task(request: TaskRequest) -> TaskData:
    """Load a task's splits, then subsample / carve a held-out split as the request says."""
    problems = RowProblems(request.drop_invalid_rows)
    if request.task in GLUE_TASKS:
        data = _load_glue(GLUE_TASKS[request.task], request.data_dir, problems)
    elif _looks_like_path(request.task):
        data = _load_custom(Path(request.task), request, problems)
    else:
        raise UserError(
            f"unknown task {request.task!r}: use a GLUE task ({', '.join(task_names())}) "
            f"or a path to a {'/'.join(s[1:] for s in SUFFIXES)} file or a directory of them"
        )
    if request.train_size is not None and request.train_size < 1:
        raise UserError(f"train size must be at least 1, got {request.train_size}")
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


class RowProblems:
    """Rows with a problem of their own, in one task's files: refused (the default), or left out and
    counted by reason per file (``drop``)."""

    def __init__(self, drop: bool):
        self.drop = drop
        self.counts: dict[str, dict[str, int]] = {}  # file kind (train/dev/test) → reason → rows
        self.files: dict[str, str] = {}  # file kind → file name, for the notes

    def found(self, kind: str, path: Path, reason: str, message: str) -> None:
        if not self.drop:
            raise UserError(f"{message}; {DROP_HINT}")
        counts = self.counts.setdefault(kind, {})
        counts[reason] = counts.get(reason, 0) + 1
        self.files[kind] = path.name

    def notes(self) -> list[str]:
        return [f"dropped {sum(counts.values()):,} row{'s' if sum(counts.values()) != 1 else ''} of "
                f"{self.files[kind]} (--drop-invalid-rows): "
                + ", ".join(f"{count:,} with {reason}" for reason, count in sorted(counts.items()))
                for kind, counts in self.counts.items()]


class _BadRow(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def _is_missing(value: str) -> bool:
    return value.strip().lower() in MISSING_LABELS


def _looks_like_path(task: str) -> bool:
    return os.sep in task or task.endswith(SUFFIXES) or Path(task).exists()


# ----------------------------------------------------------------------------- GLUE
def data_dir_candidates(data_dir: str | None) -> list[Path]:
    if data_dir:
        return [Path(data_dir)]
    if os.environ.get(DATA_DIR_ENV):
        return [Path(os.environ[DATA_DIR_ENV])]
    return list(DEFAULT_DATA_DIRS)


def _load_glue(spec: TaskSpec, data_dir: str | None, problems: RowProblems) -> TaskData:
    candidates = data_dir_candidates(data_dir)
    for root in candidates:
        folder = root / spec.name
        if (folder / "train.tsv").is_file() and (folder / "dev.tsv").is_file():
            test = folder / "test.tsv"
            train = _read_split(spec, folder / "train.tsv", problems, "train")
            dev = _read_split(spec, folder / "dev.tsv", problems, "dev")
            labelled_test = test.is_file() and _has_label_column(test)
            test_split = _read_split(spec, test, problems, "test") if labelled_test else None
            return TaskData(spec, train, dev, test_split, source=str(folder),
                            splits=SplitSources(dev=DEV_FILE, heldout=TEST_FILE_SOURCE if labelled_test else None))
    if data_dir:
        raise UserError(f"--data-dir {data_dir} has no {spec.name}/train.tsv and {spec.name}/dev.tsv (GLUE layout)")
    return _load_glue_from_hub(spec, candidates)


def _load_glue_from_hub(spec: TaskSpec, searched: list[Path]) -> TaskData:
    import datasets

    try:
        hub = datasets.load_dataset("glue", spec.name)
    except Exception as error:  # the hub raises many types (offline, DNS, HTTP); all mean "not reachable"
        where = ", ".join(str(p) for p in searched)
        raise UserError(
            f"task {spec.name}: no local copy (looked in {where}) and the Hugging Face hub failed "
            f"({type(error).__name__}); pass --data-dir DIR holding {spec.name}/train.tsv and dev.tsv"
        ) from None
    columns = [*spec.text_columns, LABEL_COLUMN]
    train = hub["train"].select_columns(columns)
    dev = hub[spec.hub_dev_split].select_columns(columns)
    return TaskData(spec, train, dev, None, source=f"hub:glue/{spec.name}")


def _has_label_column(path: Path) -> bool:
    """GLUE's own test files carry no labels; those are not a usable held-out split."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return LABEL_COLUMN in handle.readline().rstrip("\n").split("\t")
    except OSError as error:
        raise UserError(f"{path}: cannot read the file ({error.strerror or type(error).__name__})") from None


def _read_split(spec: TaskSpec, path: Path, problems: RowProblems, kind: str, label_column: str = LABEL_COLUMN,
                columns: dict[str, list[str]] | None = None) -> datasets.Dataset:
    import datasets

    columns = columns if columns is not None else read_table(path)
    missing = [c for c in (*spec.text_columns, label_column) if c not in columns]
    if missing:
        raise UserError(f"{path}: no column {missing[0]!r}; the file has {names(columns)}")
    first_line = 1 if path.suffix.lower() == ".jsonl" else 2  # a JSONL file has no header line
    text_columns = list(dict.fromkeys(spec.text_columns))  # a column named twice is kept once
    rows: dict[str, list] = {name: [] for name in (*text_columns, LABEL_COLUMN)}
    for index, value in enumerate(columns[label_column]):
        line = index + first_line
        try:
            for name in text_columns:
                if not columns[name][index].strip():
                    raise _BadRow("an empty text", f"{path}:{line}: column {name!r} is empty")
            label = _parse_label(spec, value, path, line)
        except _BadRow as bad:
            problems.found(kind, path, bad.reason, bad.message)
            continue
        for name in text_columns:
            rows[name].append(columns[name][index])
        rows[LABEL_COLUMN].append(label)
    if not rows[LABEL_COLUMN]:
        counts = problems.counts.get(kind, {})
        raise UserError(f"{path}: every row has a problem (" + ", ".join(f"{n:,} with {reason}" for reason, n in
                        sorted(counts.items())) + "); nothing is left")
    return datasets.Dataset.from_dict(rows)


def _parse_label(spec: TaskSpec, value: str, path: Path, row: int) -> int | float:
    """The label of one row, or :class:`_BadRow` saying why it has none (a missing or an invalid label)."""
    text = value.strip()
    reason = "a missing label" if _is_missing(value) else "an invalid label"
    if spec.is_regression:
        try:
            number = float(text)
        except ValueError:
            raise _BadRow(reason, f"{path}:{row}: label {value!r} is not a number (this is a regression task)") \
                from None
        if not math.isfinite(number):
            raise _BadRow(reason, f"{path}:{row}: label {value!r} is not a finite number")
        return number
    if text in spec.label_names:
        return spec.label_names.index(text)
    # an integer may index the classes (GLUE files use 0/1) unless the class names are integers themselves:
    # then a "0" that is not a class is a mistake, not class number 0
    by_index = not any(_is_int(name) for name in spec.label_names)
    try:
        label = int(text) if by_index else -1
    except ValueError:
        label = -1
    if not 0 <= label < spec.num_labels:
        allowed = [str(i) for i in range(spec.num_labels) if by_index] + list(spec.label_names)
        raise _BadRow(reason, f"{path}:{row}: label {value!r} is not one of {names(allowed)}")
    return label


# ----------------------------------------------------------------------------- custom files
def _load_custom(path: Path, request: TaskRequest, problems: RowProblems) -> TaskData:
    if path.is_dir():
        files = {kind: _find_split(path, names) for kind, names in
                 (("train", ("train",)), ("dev", ("dev", "validation")), ("test", ("test",)))}
        if files["train"] is None:
            raise UserError(f"{path}: no train.tsv/.csv/.jsonl in this directory")
    elif path.is_file():
        files = {"train": path, "dev": None, "test": None}
    else:
        raise UserError(f"task file {path} " + ("is not a regular file" if path.exists() else "does not exist"))
    train_columns = read_table(files["train"])
    spec = infer_spec(files["train"], train_columns, request.text_columns, request.label_column,
                      request.drop_invalid_rows, task_name=path.stem if path.is_file() else path.name)
    label = request.label_column
    train = _read_split(spec, files["train"], problems, "train", label, columns=train_columns)
    splits = SplitSources(dev=DEV_FILE, heldout=TEST_FILE_SOURCE if files["test"] is not None else None)
    if files["dev"] is not None:
        dev = _read_split(spec, files["dev"], problems, "dev", label)
    else:  # no dev file: dev is a seeded, stratified 10% of the train file
        if len(train) < 2:
            raise UserError(f"{files['train']}: {len(train)} usable row; dev is carved from the train file when "
                            "there is no dev file, so it needs more rows (or give a dev file)")
        train, dev = split_off(train, fraction=0.1, seed=request.seed, stratify=not spec.is_regression)
        splits = replace(splits, dev=CARVED, seed=request.seed)
    test = _read_split(spec, files["test"], problems, "test", label) if files["test"] is not None else None
    return TaskData(spec, train, dev, test, source=str(path), splits=splits)


def _find_split(folder: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        for suffix in SUFFIXES:
            if (folder / f"{name}{suffix}").is_file():
                return folder / f"{name}{suffix}"
    return None


def infer_spec(path: Path, columns: dict[str, list[str]], text_columns: tuple[str, ...], label_column: str,
               drop_invalid_rows: bool = False, task_name: str | None = None) -> TaskSpec:
    """Work out a custom task's text columns, label set and metric from its training file. Rows without a
    label refuse the file, or with ``drop_invalid_rows`` are left out of the guess (the reader drops them)."""
    if label_column not in columns:
        raise UserError(f"{path}: no label column {label_column!r}; the file has {names(columns)} (use --label-column)")
    if not text_columns:
        text_columns = _guess_text_columns(path, columns, label_column)
    for name in text_columns:
        if name not in columns:
            raise UserError(f"{path}: no text column {name!r}; the file has {names(columns)}")
        if name in (label_column, LABEL_COLUMN):  # the loaded splits keep the labels in a column named "label"
            why = "it is the label column" if name == label_column else f"the name {LABEL_COLUMN!r} is kept for labels"
            raise UserError(f"{path}: column {name!r} cannot be a text column ({why}); rename it or pass --text-columns")
    first_line = 1 if path.suffix.lower() == ".jsonl" else 2
    values = []
    for row, value in enumerate(columns[label_column], start=first_line):
        if not _is_missing(value):
            values.append(value.strip())
        elif not drop_invalid_rows:
            raise UserError(f"{path}:{row}: label is missing ({value!r}); {DROP_HINT}")
    if not values:
        raise UserError(f"{path}: no row has a label (column {label_column!r})")
    name = task_name or path.stem
    if all(_is_int(v) for v in values):
        classes = sorted(set(values), key=int)
    elif all(_is_float(v) for v in values):
        return TaskSpec(name, text_columns, 1, "pearson")
    else:
        classes = sorted(set(values))
    if len(classes) < 2:
        raise UserError(f"{path}: the label column has only one value ({classes[0]!r}); a classifier needs two or more")
    metric = "accuracy" if len(classes) == 2 else "macro_f1"
    return TaskSpec(name, text_columns, len(classes), metric, tuple(classes))


def _guess_text_columns(path: Path, columns: dict[str, list[str]], label_column: str) -> tuple[str, ...]:
    for guess in (("sentence1", "sentence2"), ("premise", "hypothesis"), ("question", "sentence"),
                  ("sentence",), ("text",)):
        if all(name in columns for name in guess):
            return guess
    others = [c for c in columns if c != label_column]
    if len(others) == 1:
        return (others[0],)
    raise UserError(f"{path}: cannot tell which columns hold the text among {names(others)}; pass --text-columns")


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _is_float(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


# ----------------------------------------------------------------------------- splitting
def _label_groups(dataset: datasets.Dataset, stratify: bool) -> list[list[int]]:
    if not stratify:
        return [list(range(len(dataset)))]
    groups: dict[object, list[int]] = defaultdict(list)
    for index, label in enumerate(list(dataset[LABEL_COLUMN])):
        groups[label].append(index)
    return [groups[key] for key in sorted(groups)]


def stratified_indices(dataset: datasets.Dataset, size: int, seed: int, stratify: bool = True) -> list[int]:
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


def nested_indices(dataset: datasets.Dataset, size: int, seed: int, stratify: bool = True) -> list[int]:
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


def stratified_subset(dataset: datasets.Dataset, size: int, seed: int) -> datasets.Dataset:
    """The training subsample (``--train-size``): nested, so a data-size sweep's sizes share their examples."""
    stratify = isinstance(dataset[0][LABEL_COLUMN], int)
    return dataset.select(nested_indices(dataset, size, seed, stratify))


def split_off(dataset: datasets.Dataset, fraction: float | None = None, seed: int = 0, stratify: bool = True,
              size: int | None = None) -> tuple[datasets.Dataset, datasets.Dataset]:
    """Split into (rest, part) with ``part`` a seeded, stratified sample of ``size`` rows (or ``fraction``)."""
    size = size if size is not None else max(1, round(len(dataset) * (fraction or 0)))
    if not 0 < size < len(dataset):
        raise UserError(f"cannot split {size} rows off a split of {len(dataset)} rows")
    part = set(stratified_indices(dataset, size, seed, stratify))
    rest = [i for i in range(len(dataset)) if i not in part]
    return dataset.select(rest), dataset.select(sorted(part))


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
