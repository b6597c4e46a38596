"""Reading a task's files into splits: a GLUE task from a local directory in GLUE layout (then the Hugging Face
hub, the only place the ``datasets`` library is needed), or the user's own CSV/TSV/JSONL file or directory,
with its text columns, label set and metric worked out from the training file (:func:`infer_spec`).

A row with a problem of its own (an empty text cell, a missing label, a label that is not a number or not one
of the classes) refuses the whole file, naming the line, unless ``drop_invalid_rows`` is set: then such rows are
left out and counted by reason per file (:class:`RowProblems`). A problem with the file itself (not UTF-8, a bad
header, a row with the wrong number of fields) always refuses it (``peftbench.datafiles``).
"""

from __future__ import annotations

import math
import os
import socket
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from peftbench.columns import Columns
from peftbench.datafiles import SUFFIXES, names, read_table
from peftbench.errors import UserError
from peftbench.records import CARVED, DEV_FILE, TEST_FILE_SOURCE, SplitSources
from peftbench.splits import split_off
from peftbench.task_types import LABEL_COLUMN, TaskData, TaskSpec

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_ENV = "PEFTBENCH_DATA_DIR"
# Searched in order when neither --data-dir nor $PEFTBENCH_DATA_DIR is given. The second entry is
# the shared data folder that sits beside a checkout on the development machines.
DEFAULT_DATA_DIRS = (PROJECT_ROOT / "data", PROJECT_ROOT.parent / "shared" / "data")
DROP_HINT = "pass --drop-invalid-rows to drop such rows"
MISSING_LABELS = ("", "nan", "none", "null", "na")  # a label cell holding one of these (any case) has no label
# A two-class task whose larger class is at least this share of the training rows is scored by MCC, not accuracy:
# always answering that class would already score its share in accuracy, and 0 in MCC.
IMBALANCED = 0.6


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


def looks_like_path(task: str) -> bool:
    return os.sep in task or task.endswith(SUFFIXES) or Path(task).exists()


# ----------------------------------------------------------------------------- GLUE
def data_dir_candidates(data_dir: str | None) -> list[Path]:
    if data_dir:
        return [Path(data_dir)]
    if os.environ.get(DATA_DIR_ENV):
        return [Path(os.environ[DATA_DIR_ENV])]
    return list(DEFAULT_DATA_DIRS)


def load_glue(spec: TaskSpec, data_dir: str | None, problems: RowProblems) -> TaskData:
    """A GLUE task from ``<data dir>/<task>/{train,dev}.tsv`` (and a labelled ``test.tsv``, if there is one), else
    from the hub."""
    candidates = data_dir_candidates(data_dir)
    for root in candidates:
        folder = root / spec.name
        if (folder / "train.tsv").is_file() and (folder / "dev.tsv").is_file():
            test = folder / "test.tsv"
            train = read_split(spec, folder / "train.tsv", problems, "train")
            dev = read_split(spec, folder / "dev.tsv", problems, "dev")
            labelled_test = test.is_file() and _has_label_column(test)
            test_split = read_split(spec, test, problems, "test") if labelled_test else None
            return TaskData(spec, train, dev, test_split, source=str(folder),
                            splits=SplitSources(dev=DEV_FILE, heldout=TEST_FILE_SOURCE if labelled_test else None))
    if data_dir:
        raise UserError(f"--data-dir {data_dir} has no {spec.name}/train.tsv and {spec.name}/dev.tsv (GLUE layout)")
    return _load_glue_from_hub(spec, candidates)


def hub_unreachable(timeout_s: float = 5.0) -> str | None:
    """Why the Hugging Face hub cannot be reached, found by one TCP connect, or None when it may be. Without it an
    offline run prints ~25 s of datasets' retry warnings before failing. No probe where the answer is elsewhere:
    in offline mode datasets reads its own cache, and behind a proxy a direct connect proves nothing."""
    if any(os.environ.get(name) for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HTTPS_PROXY", "https_proxy",
                                             "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")):
        return None
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as error:
        return f"{host}:{port}: {error.strerror or type(error).__name__}"
    return None


def _load_glue_from_hub(spec: TaskSpec, searched: list[Path]) -> TaskData:
    where = ", ".join(str(p) for p in searched)
    local_hint = f"pass --data-dir DIR holding {spec.name}/train.tsv and dev.tsv"
    unreachable = hub_unreachable()
    if unreachable:
        raise UserError(f"task {spec.name}: no local copy (looked in {where}) and the Hugging Face hub is not "
                        f"reachable ({unreachable}); {local_hint}")
    import datasets

    try:
        hub = datasets.load_dataset("glue", spec.name)
    except Exception as error:  # the hub raises many types (offline, DNS, HTTP); all mean "not reachable"
        raise UserError(f"task {spec.name}: no local copy (looked in {where}) and the Hugging Face hub failed "
                        f"({type(error).__name__}); {local_hint}") from None
    columns = [*spec.text_columns, LABEL_COLUMN]
    train = Columns(hub["train"].select_columns(columns).to_dict())
    dev = Columns(hub[spec.hub_dev_split].select_columns(columns).to_dict())
    return TaskData(spec, train, dev, None, source=f"hub:glue/{spec.name}")


def _has_label_column(path: Path) -> bool:
    """GLUE's own test files carry no labels; those are not a usable held-out split."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return LABEL_COLUMN in handle.readline().rstrip("\n").split("\t")
    except OSError as error:
        raise UserError(f"{path}: cannot read the file ({error.strerror or type(error).__name__})") from None


def read_split(spec: TaskSpec, path: Path, problems: RowProblems | None = None, kind: str = "train",
               label_column: str = LABEL_COLUMN, columns: dict[str, list[str]] | None = None) -> Columns:
    """One file's rows: the text columns and parsed labels (a row with a problem refuses the file, unless
    ``problems`` drops such rows)."""
    problems = problems if problems is not None else RowProblems(drop=False)
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
    return Columns(rows)


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
def load_custom(path: Path, text_columns: tuple[str, ...], label_column: str, drop_invalid_rows: bool, seed: int,
                problems: RowProblems) -> TaskData:
    """The user's own task: a file (dev then carved from it, seeded and stratified) or a directory of train.*,
    dev.* and test.* files."""
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
    spec = infer_spec(files["train"], train_columns, text_columns, label_column, drop_invalid_rows,
                      task_name=path.stem if path.is_file() else path.name)
    label = label_column
    train = read_split(spec, files["train"], problems, "train", label, columns=train_columns)
    splits = SplitSources(dev=DEV_FILE, heldout=TEST_FILE_SOURCE if files["test"] is not None else None)
    if files["dev"] is not None:
        dev = read_split(spec, files["dev"], problems, "dev", label)
    else:  # no dev file: dev is a seeded, stratified 10% of the train file
        if len(train) < 2:
            raise UserError(f"{files['train']}: {len(train)} usable row; dev is carved from the train file when "
                            "there is no dev file, so it needs more rows (or give a dev file)")
        train, dev = split_off(train, fraction=0.1, seed=seed, stratify=not spec.is_regression)
        splits = replace(splits, dev=CARVED, seed=seed)
    test = read_split(spec, files["test"], problems, "test", label) if files["test"] is not None else None
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
    metric, why = default_metric(values)
    return TaskSpec(name, text_columns, len(classes), metric, tuple(classes), metric_reason=why)


def default_metric(labels: list[str]) -> tuple[str, str]:
    """A custom classification task's metric, one a constant predictor cannot win, and why: macro F1 for three
    or more classes, MCC for two imbalanced ones (IMBALANCED), accuracy for two balanced ones."""
    counts = sorted((labels.count(value) for value in set(labels)), reverse=True)
    if len(counts) > 2:
        return "macro_f1", f"macro F1 over its {len(counts)} classes: no constant answer scores well on every class"
    share = counts[0] / len(labels)
    if share >= IMBALANCED:
        return "mcc", (f"MCC: the larger class is {share:.0%} of the training file, and always answering it would "
                       f"score {share:.0%} in accuracy but 0 in MCC")
    return "accuracy", f"accuracy: its two classes are balanced (the larger is {share:.0%} of the training file)"


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
