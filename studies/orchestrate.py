"""A comparison command end to end, for one process of it: the checks that can refuse it (all before anything is
written), the output directory (manifest, lock, log), the storage, the worker processes on this machine, the
comparison itself and its record. A data-size sweep is one such comparison per size, smallest first. The runner
(``runners.compare``) parses the command line and prints; everything in between is here.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Protocol

from peftbench.errors import UserError
from peftbench.layout import ComparisonDir, SweepDir, size_dir, size_label, write_atomic
from peftbench.records import ComparisonRecord
from peftbench.schema import save_results
from peftbench.sweep_manifest import manifest_text
from peftbench.task_types import TaskData
from studies import preflight, results, workers
from studies.compare import Comparison, ComparisonSettings, load_data
from studies.race import Race, RaceSettings
from studies.storage import choose_storage, open_storage, redact
from studies.trackers import Tracking
from studies.trackers import check as check_trackers


@dataclass(frozen=True)
class Options:
    """What a comparison command asks beyond its settings: where it writes, which storage and trackers."""

    out: Path
    storage: str | None = None  # an Optuna storage URL or journal file shared by several machines; None: a file in out
    heartbeat_interval: int = 20
    grace_period: int = 60
    log_to: tuple[str, ...] = ()
    mlflow_uri: str | None = None
    named: frozenset[str] = frozenset()  # strategies named outright: refused, not skipped, when they cannot run here
    worker_command: tuple[str, ...] = ()  # this command line, which every worker this process starts runs too


class Progress(Protocol):
    """What the command shows as it goes (``runners.comparing.TerminalProgress``): one line per finished run."""

    def say(self, line: str) -> None: ...

    def finished(self, line: str) -> None: ...

    def advance(self, runs: int) -> None: ...

    def close(self) -> None: ...


ProgressFactory = Callable[[ComparisonSettings, bool, logging.Logger], Progress]  # (settings, coordinator, logger)


@dataclass
class Outcome:
    """What one process of a comparison ends with; a worker process has no record (the coordinator writes it)."""

    out: Path
    record: ComparisonRecord | None = None
    notes: list[str] = field(default_factory=list)  # what the command should still say (trackers that stopped)


def compare(settings: ComparisonSettings, options: Options, progress: ProgressFactory, data: TaskData | None = None,
            storage=None, race: RaceSettings | None = None) -> Outcome:
    """One comparison: the whole command, or one size of a sweep, for which :func:`sweep` has already made every
    check (``data`` given) and opened a shared ``storage``; or, with ``race``, a race (``studies.race``)."""
    kind = preflight.COMPARISON if race is None else preflight.RACE
    out = options.out
    settings.run = replace(settings.run, output_dir=str(out))  # seed runs save their weights under out/models/
    checked = data is not None
    coordinator = settings.worker_index == 0
    workers.share_resources(settings.workers, settings.run.device)
    if not checked:
        preflight.drop_unrunnable(settings, options.named)
    if coordinator and not checked:
        preflight.check_out(out, settings, kind)
        check_trackers(options.log_to, options.mlflow_uri)
    elif not coordinator and not out.is_dir():
        raise UserError(f"worker started for {out}, which does not exist")
    if data is None:
        data = load_data(settings)  # the task and its files; the comparison uses this copy, it is not loaded again
    settings.check_metric(data.spec.metric)
    if coordinator and not checked:
        preflight.check_model(settings.model)
        preflight.check_strategies_fit(settings, data.spec.num_labels)
    choice = choose_storage(options.storage, out, settings.workers)
    workers.quiet_optuna()
    if storage is None and not choice.local:  # a shared storage is opened (its server reached) before any write
        storage = open_storage(choice, options.heartbeat_interval, options.grace_period)
    if coordinator:
        out.mkdir(parents=True, exist_ok=True)
        preflight.write_manifest(out, settings, kind)
    logger = workers.setup_logging(out)
    lock = workers.take_lock(out) if coordinator and choice.local else None
    with lock if lock is not None else nullcontext():
        if storage is None:
            storage = open_storage(choice, options.heartbeat_interval, options.grace_period)
        settings.extra.update({"shared_storage": not choice.local, "heartbeat_interval": options.heartbeat_interval,
                               "grace_period": options.grace_period})
        return run(settings, options, progress(settings, coordinator, logger), storage, data,
                   redact(choice.url), locked=lock is not None, race=race)


def run(settings: ComparisonSettings, options: Options, progress: Progress, storage, data: TaskData,
        storage_label: str, locked: bool, race: RaceSettings | None = None) -> Outcome:
    """The comparison (or race) in this process (and, for the coordinator, in the workers it starts), then its
    record."""
    out = options.out
    tracking = Tracking.open(options.log_to, out, options.mlflow_uri, settings, data.spec.metric)
    comparison = Comparison(settings, storage, on_run_finished=progress.finished, data=data,
                            on_trial_stored=tracking.log_trial)
    progress.advance(comparison.finished_runs())
    if locked:
        requeued = comparison.requeue_all_running()
        if requeued:
            progress.say(f"resuming: {requeued} trial(s) interrupted by an earlier kill will run again")
    racer = Race(comparison, race, progress.say) if race is not None else None
    if settings.worker_index:
        racer.work() if racer is not None else comparison.run()
        return Outcome(out)
    created = results.previous_created(out)

    def write() -> ComparisonRecord:
        record = results.build(comparison, storage_label, created, racer.record() if racer is not None else None)
        save_results(record, out)
        return record

    for name, reason in settings.skipped.items():
        progress.say(f"skipping {name}: it {reason}")
    what = (f"budget {settings.budget:g} {settings.budget_kind} per strategy, {settings.seeds} seeds" if racer is None
            else f"racing for {race.budget:g} {race.budget_kind}, margin ±{racer.margin():g}, up to {race.max_seeds} seeds")
    progress.say(f"{'comparing' if racer is None else 'racing'} {', '.join(settings.names)} on {settings.task} "
                 f"({settings.preset.name} preset, {what}, {settings.workers} worker{'s' * (settings.workers > 1)})"
                 f" → {out}")
    started = workers.spawn_workers(options.worker_command, settings.workers, out)
    try:
        racer.run(after_strategy=write) if racer is not None else comparison.run(after_strategy=write)
    finally:
        for worker in started:
            worker.wait()
    notes = []
    if locked:  # runs finished before --log-to was given, or whose logging a kill cut short
        backfilled = tracking.sync(comparison.existing_studies())
        if backfilled:
            progress.say(f"trackers: logged {backfilled} finished run(s) they did not have yet")
    if tracking.failed:
        notes.append(f"trackers: {', '.join(tracking.failed)} stopped logging after an error "
                     f"({ComparisonDir(out).log.name} says why); run the same command again to log what they missed")
    progress.close()
    return Outcome(out, write(), notes)


def sweep(plans: list[tuple[int | None, ComparisonSettings]], options: Options, progress: ProgressFactory,
          after_size: Callable[[Outcome], None] = lambda outcome: None) -> list[Outcome]:
    """``--train-sizes``: one ordinary comparison per size, smallest first, each in ``<out>/train-<size>/``
    (resumable and reportable on its own). Every size is checked before anything is written; sizes may share a
    ``--storage``, under study names that end in their size. ``after_size`` runs after each size (the runner
    writes the sweep's report there, so a sweep stopped half-way has one of what it measured)."""
    out = options.out
    for _, settings in plans:
        settings.validate()
        preflight.drop_unrunnable(settings, options.named)
    existing = preflight.check_sweep_out(out, plans)
    loaded = preflight.load_sweep_data(plans)
    check_trackers(options.log_to, options.mlflow_uri)
    first = plans[0][1]
    preflight.check_model(first.model)
    preflight.check_strategies_fit(first, loaded[0].spec.num_labels)
    storage = None
    if options.storage:  # a shared storage is opened (and its server reached) before anything is written
        workers.quiet_optuna()
        storage = open_storage(choose_storage(options.storage, out, first.workers), options.heartbeat_interval,
                               options.grace_period)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(SweepDir(out).manifest, manifest_text(first.task, first.model, first.preset.name,
                                                       [size for size, _ in plans], existing))
    outcomes = []
    for number, ((size, settings), data) in enumerate(zip(plans, loaded), start=1):
        size_options = replace(options, out=SweepDir(out).size(size).root,
                               worker_command=(*options.worker_command, "--sweep-size", size_label(size)))
        outcome = compare(settings, size_options, announce(progress, f"sweep: size {number} of {len(plans)}, "
                                                                     f"{len(data.train):,} training examples"),
                          data, storage)
        outcomes.append(outcome)
        after_size(outcome)
    return outcomes


def announce(progress: ProgressFactory, line: str) -> ProgressFactory:
    """``progress``, whose first line says which size of a sweep is starting."""
    def make(settings: ComparisonSettings, coordinator: bool, logger: logging.Logger) -> Progress:
        shown = progress(settings, coordinator, logger)
        shown.say(line)
        return shown

    return make


def sweep_worker(plans: list[tuple[int | None, ComparisonSettings]], size: str, options: Options,
                 progress: ProgressFactory) -> Outcome:
    """A worker process of one size of a sweep, started by that size's comparison (``--sweep-size``)."""
    settings = next((settings for planned, settings in plans if size_label(planned) == size), None)
    if settings is None:
        raise UserError(f"worker started for size {size}, which is not in --train-sizes")
    settings.validate()
    return compare(settings, replace(options, out=options.out / size_dir(settings.run.train_size)), progress)
