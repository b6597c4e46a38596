"""Where everything of a run directory lives. Every reader and writer of one (comparisons, races, sweeps,
single training runs, export, trackers, reports) asks this module for its paths, so a folder or file name is
decided here once. Torch-free: the reports import it."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from peftbench.errors import UserError

RUNS_ROOT = Path("runs")
RESULTS_FILE = "results.json"  # a comparison's (or race's) record: docs/results-schema.md
TRAIN_RESULT_FILE = "result.json"  # one training run's record (runners.train)
SWEEP_FILE = "sweep.json"  # a data-size sweep's manifest
REPORT_DIR = "report"
LOG_FILE = "compare.log"  # a comparison's log; results.json names it (relative to the comparison) for failed runs
COMBINED_REPORT_DIR = RUNS_ROOT / "combined-report"


def task_label(task: str) -> str:
    """A task's name in paths and study names: a GLUE name as it is, a file or directory by its stem."""
    return Path(task).stem if ("/" in task or Path(task).suffix) else task


def model_short_name(model: str) -> str:
    """A model's name in paths and study names: the last part of a hub id or directory."""
    return Path(model.rstrip("/")).name or model


def run_name(task: str, model: str, preset: str) -> str:
    """``<task>-<model>-<preset>``: the default comparison directory's name, and the trackers' experiment."""
    return f"{task_label(task)}-{model_short_name(model)}-{preset}"


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write a file whole or not at all (a temporary file beside it, then a rename), so a killed process never
    leaves half a file behind."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if isinstance(data, bytes):
        temporary.write_bytes(data)
    else:
        temporary.write_text(data, encoding="utf-8")
    os.replace(temporary, path)


@contextmanager
def staged_directory(target: Path) -> Iterator[Path]:
    """An empty directory beside ``target`` to write into. When the block ends cleanly it replaces ``target``
    whole (an old ``target`` is removed only once the new one is in place); otherwise it is removed and
    ``target`` stays as it was. A reader never sees half a directory."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield stage
        stage.chmod(0o755)
        if not target.exists():
            os.rename(stage, target)
            return
        graveyard = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
        os.rename(target, graveyard / "old")
        try:
            os.rename(stage, target)
        except OSError:
            os.rename(graveyard / "old", target)  # put the old one back rather than leave none
            raise
        shutil.rmtree(graveyard, ignore_errors=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def check_directory_target(path: Path, flag: str = "--out") -> None:
    """Refuse (UserError) a directory to write that cannot be one: the path, or a folder above it, is a file."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            if not candidate.is_dir():
                where = "is a file" if candidate == path else f"is under {candidate}, which is a file"
                raise UserError(f"{flag} {path} {where}; give a directory")
            return


@dataclass(frozen=True)
class ComparisonDir:
    """A comparison's (or race's) directory: its record, report, logs, Optuna storage and trained models."""

    root: Path

    @property
    def results(self) -> Path:
        return self.root / RESULTS_FILE

    @property
    def manifest(self) -> Path:
        """What the directory holds (task, model, preset, kind), written before anything else."""
        return self.root / "comparison.json"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"

    @property
    def log(self) -> Path:
        """Everything that happened, tracebacks of failed runs included (every worker appends to it)."""
        return self.root / LOG_FILE

    @property
    def workers_log(self) -> Path:
        """What worker processes print (their own logging goes to :attr:`log`)."""
        return self.root / "workers.log"

    @property
    def sqlite(self) -> Path:
        """The default Optuna storage of a one-process comparison."""
        return self.root / "optuna.db"

    @property
    def journal(self) -> Path:
        """The default Optuna storage when several processes share it."""
        return self.root / "optuna.journal"

    @property
    def report(self) -> Path:
        return self.root / REPORT_DIR

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    @property
    def mlruns(self) -> Path:
        return self.root / "mlruns"

    def models(self, strategy: str) -> Path:
        """Every seed run's trained model of ``strategy``."""
        return self.root / "models" / strategy

    def seed_dir(self, strategy: str, seed: int, configuration: int | None = None) -> Path:
        """``models/<strategy>/seed-<n>/``, or for one of several Pareto-front configurations
        ``models/<strategy>/trial-<t>/seed-<n>/``."""
        folder = self.models(strategy)
        return (folder if configuration is None else folder / f"trial-{configuration}") / f"seed-{seed}"

    def trials_dir(self, strategy: str) -> Path:
        """Tuning trials' weights, kept only until the strategy's seed runs have reused them."""
        return self.root / "trials" / strategy

    def trial_dir(self, strategy: str, number: int) -> Path:
        return self.trials_dir(strategy) / f"trial-{number}"


@dataclass(frozen=True)
class TrainRunDir:
    """One training run's directory (runners.train): its record, its log, and the trained weights the core saves
    there (``peftbench.artifacts``)."""

    root: Path

    @classmethod
    def default(cls, task: str, strategy: str) -> "TrainRunDir":
        """``runs/train/<task>-<strategy>-<time>``."""
        return cls(RUNS_ROOT / "train" / f"{task_label(task)}-{strategy}-{time.strftime('%Y%m%d-%H%M%S')}")

    @property
    def result(self) -> Path:
        return self.root / TRAIN_RESULT_FILE

    @property
    def log(self) -> Path:
        """Where a failure's traceback goes."""
        return self.root / "train.log"


@dataclass(frozen=True)
class SweepDir:
    """A data-size sweep's directory: its manifest, one comparison per training-set size, its report."""

    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / SWEEP_FILE

    @property
    def report(self) -> Path:
        return self.root / REPORT_DIR

    def size(self, size: int | None) -> ComparisonDir:
        """The comparison at ``size`` training examples (None: the whole training set): ``train-<size>/``."""
        return ComparisonDir(self.root / size_dir(size))


ALL_SIZES = "all"  # a sweep's size that is the whole training set


def size_label(size: int | None) -> str:
    return ALL_SIZES if size is None else str(size)


def size_dir(size: int | None) -> str:
    """The folder of one size's comparison inside a sweep."""
    return f"train-{size_label(size)}"
