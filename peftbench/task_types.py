"""What a task is: its inputs, labels and metric (:class:`TaskSpec`, with the GLUE tasks peftbench knows), and its
loaded splits (:class:`TaskData`). How the splits are read is ``peftbench.task_files``; how they are carved and
subsampled, ``peftbench.tasks``."""

from __future__ import annotations

from dataclasses import dataclass, field

from peftbench.columns import Columns
from peftbench.records import CARVED, DEV_FILE, SplitSources

LABEL_COLUMN = "label"


@dataclass(frozen=True)
class TaskSpec:
    """What a task looks like: its text columns, its labels and its metric."""

    name: str
    text_columns: tuple[str, ...]
    num_labels: int  # 1 means regression
    metric: str  # the primary metric, used for model selection
    label_names: tuple[str, ...] = ()
    hub_dev_split: str = "validation"
    metric_reason: str = "the task's own metric"  # why runs are selected and ranked on ``metric``

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
    """A task's splits (:class:`peftbench.columns.Columns`: the text columns and an integer/float ``label``)."""

    spec: TaskSpec
    train: Columns
    dev: Columns
    test: Columns | None = None
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


def task_names() -> list[str]:
    return sorted(GLUE_TASKS)
