"""Compare strategies: ``python -m runners.compare --task sst2``.

Tunes every strategy with Optuna on an equal budget (dev split only), re-trains each best configuration
with several seeds (scored on dev and a held-out split), writes ``results.json`` and the report, and
prints a ranking. Re-running the same command resumes: finished trials and seed runs are not repeated.
``--train-sizes 100,500,...,all`` is a data-size sweep: that comparison once per training-set size, each in
``<out>/train-<size>/``, then a report across the sizes (reports.sweep).
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from core import cli
from core.errors import UserError
from core.exits import Exit
from core.layout import RUNS_ROOT, ComparisonDir, check_directory_target, run_name, write_atomic
from runners.common import add_run_arguments, strategy_listing
from strategies import DEFAULT_GROUP, groups



def build_parser() -> cli.ArgumentParser:
    from core.config import TrainConfig
    from core.tasks import PROTOCOLS
    from studies.compare import BUDGET_KINDS, DEFAULT_PRUNER, PRUNERS, SAMPLERS
    from studies.presets import PRESETS

    parser = cli.ArgumentParser(prog="python -m runners.compare", description=__doc__, exits=(Exit.PARTIAL,))
    parser.add_argument("--strategies", default=DEFAULT_GROUP,
                        help=f"comma-separated strategy names and groups ({', '.join(f'{g}: {len(m)}' for g, m in groups().items())}"
                             f" strategies; --list-strategies shows them) (default: {DEFAULT_GROUP})")
    parser.add_argument("--list-strategies", action="store_true",
                        help="print every strategy, its family and its hyperparameters (defaults and ranges), and exit")
    parser.add_argument("--preset", choices=list(PRESETS), help="smoke (tests, seconds), quick (CPU default: "
                        "2,000 training examples, 3 trials, 3 seeds), full (GPU default: all data, 20 trials, 5 seeds)")
    add_run_arguments(parser, model_default=None, max_length_default=None)
    budget = parser.add_argument_group("budget (equal for every strategy)")
    budget.add_argument("--budget-kind", choices=BUDGET_KINDS, default="trials",
                        help="count the tuning budget in trials, training samples seen, or wall-clock seconds")
    budget.add_argument("--budget", type=cli.positive_float,
                        help="tuning budget per strategy in --budget-kind units (default: the preset's trials)")
    budget.add_argument("--trials", type=cli.positive_int, help="shorthand for --budget-kind trials --budget N")
    budget.add_argument("--seeds", type=cli.positive_int, help="seed re-runs of each best configuration")
    budget.add_argument("--train-size", type=cli.positive_int, help="stratified subsample of the training set")
    budget.add_argument("--train-sizes", metavar="100,500,...,all",
                        help="a data-size sweep: one comparison per training-set size (all: the whole training set), "
                             "smallest first, each in --out/train-<size>/, then a report across sizes in --out/report/")
    budget.add_argument("--carve-size", type=cli.positive_int,
                        help="examples carved from train when the task has no labelled test split: the dev split "
                             "under --protocol dev-from-train, the held-out split under heldout-from-train")
    budget.add_argument("--protocol", choices=PROTOCOLS, default=TrainConfig.protocol,
                        help="for a task without a labelled test split: dev-from-train (default; the protocol of "
                             "small-budget papers) selects on dev carved from train and reports held-out scores on "
                             "the dev file; heldout-from-train selects on the dev file and carves held-out from train")
    budget.add_argument("--epochs", type=cli.positive_int, help="most epochs a trial may train (searched 1..N)")
    budget.add_argument("--min-steps", type=cli.non_negative_int,
                        help="optimiser steps every run takes at least: on a small training set its epochs repeat "
                             "(quick preset: 32, so a sweep's 100 examples train 8 passes, not 4 steps; 0: off)")
    search = parser.add_argument_group("search")
    search.add_argument("--sampler", choices=SAMPLERS, default="tpe", help="(default: tpe, seeded)")
    search.add_argument("--pruner", choices=PRUNERS,
                        help=f"(default: {DEFAULT_PRUNER}, successive halving at every dev evaluation, keeping the "
                             "best third; none with several --objectives, which Optuna cannot prune)")
    search.add_argument("--objectives", help="search each strategy for a Pareto set instead of one best configuration: "
                        "the task's metric (e.g. accuracy), then costs to minimise, from trainable_params, peak_memory, "
                        "train_time; e.g. accuracy,trainable_params (default: the metric alone)")
    search.add_argument("--sampler-seed", type=cli.non_negative_int, default=0)
    search.add_argument("--data-seed", type=cli.non_negative_int, default=0,
                        help="seed of the train subsample and the split carved from train (default: 0)")
    where = parser.add_argument_group("storage, workers and output")
    where.add_argument("--out", help="comparison directory (default: runs/<task>-<model>-<preset>)")
    where.add_argument("--storage", help="Optuna storage: a database URL (sqlite:///…, postgresql://user:pw@host/db) "
                       "or a journal file (*.journal); default: a SQLite file in --out")
    where.add_argument("--workers", type=cli.positive_int, default=1,
                       help="worker processes on this machine sharing the storage (default: 1)")
    where.add_argument("--heartbeat-interval", type=cli.positive_int, default=20,
                       help="seconds between a worker's heartbeats on a shared RDB storage (default: 20)")
    where.add_argument("--grace-period", type=cli.positive_int, default=60,
                       help="seconds without a heartbeat before a trial counts as dead and is re-queued (default: 60)")
    where.add_argument("--no-report", action="store_true", help="write results.json only, no report")
    where.add_argument("--log-to", type=tracker_names, default=(), metavar="tensorboard,mlflow",
                       help="also log every trial and seed run to experiment trackers: TensorBoard event files in "
                            "--out/tensorboard/, MLflow runs in --out/mlruns/mlflow.db or at --mlflow-uri "
                            "(needs the trackers extra)")
    where.add_argument("--mlflow-uri", help="MLflow tracking server or database (http://host:5000, sqlite:///…); "
                       "default: a SQLite store in --out/mlruns/")
    where.add_argument("--worker-index", type=cli.non_negative_int, default=0, help=argparse.SUPPRESS)
    where.add_argument("--sweep-size", help=argparse.SUPPRESS)  # a worker's size of a sweep (run_sweep)
    return parser


def tracker_names(text: str) -> tuple[str, ...]:
    from studies.trackers import TRACKERS

    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in TRACKERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"trackers are {', '.join(TRACKERS)}, got {text!r}")
    return names


def settings_from_args(args: argparse.Namespace):
    from core.config import TrainConfig
    from strategies import select_strategies
    from studies.compare import DEFAULT_PRUNER, ComparisonSettings
    from studies.presets import default_preset_name, resolve_preset

    preset = resolve_preset(args.preset or default_preset_name(), {
        "model": args.model, "train_size": args.train_size, "carve_size": args.carve_size,
        "epochs": args.epochs, "max_length": args.max_length, "min_steps": args.min_steps,
    })
    strategies = select_strategies(args.strategies)
    budget_kind, budget = args.budget_kind, args.budget
    if args.trials is not None:
        if args.budget is not None and args.budget_kind != "trials":
            raise UserError("give either --trials N or --budget-kind/--budget, not both")
        budget_kind, budget = "trials", args.trials
    if budget is None:
        if budget_kind != "trials":
            raise UserError(f"--budget-kind {budget_kind} needs --budget N")
        budget = preset.trials
    if budget_kind == "trials" and budget != int(budget):
        raise UserError(f"a trial budget must be a whole number, got {budget:g}")
    run = TrainConfig(
        task=args.task, model=preset.model, data_dir=args.data_dir, text_columns=tuple(args.text_columns or ()),
        label_column=args.label_column, train_size=preset.train_size, carve_size=preset.carve_size,
        protocol=args.protocol,
        drop_invalid_rows=args.drop_invalid_rows, max_length=preset.max_length, pooling=args.pooling,
        device=args.device, precision=args.precision,
        memory_cap_mb=args.memory_cap_mb, gradient_checkpointing=args.gradient_checkpointing, progress=not args.quiet,
    )
    objectives = tuple(name.strip() for name in args.objectives.split(",")) if args.objectives else ()
    pruner = args.pruner or ("none" if len(objectives) > 1 else DEFAULT_PRUNER)
    return ComparisonSettings(
        run=run, preset=preset, strategies=strategies, budget_kind=budget_kind, budget=budget,
        seeds=args.seeds or preset.seeds, sampler=args.sampler, pruner=pruner, sampler_seed=args.sampler_seed,
        data_seed=args.data_seed, workers=args.workers, worker_index=args.worker_index, objectives=objectives,
    )


def check_out(out: Path, settings) -> None:
    """Reading only: ``--out`` can hold this comparison (a directory, or nothing yet), and a directory holds
    one comparison, so refuse to mix in a different task or model."""
    import json

    from reports.sweep import is_sweep

    check_directory_target(out)
    if is_sweep(out):
        raise UserError(f"{out} holds a data-size sweep; run it with --train-sizes, or use another --out")
    path = ComparisonDir(out).manifest
    if not path.exists():
        return
    try:
        theirs = json.loads(path.read_text())
    except (OSError, ValueError):
        theirs = None
    if not isinstance(theirs, dict):
        raise UserError(f"{path} is not a peftbench comparison manifest; use another --out")
    for key, mine in (("task", settings.task), ("model", settings.model)):
        if theirs.get(key) != mine:
            raise UserError(f"{out} holds a comparison of {key} {theirs.get(key)!r}, not {mine!r}; use another --out")


def write_manifest(out: Path, settings) -> None:
    import json

    if not ComparisonDir(out).manifest.exists():
        mine = {"task": settings.task, "model": settings.model, "preset": settings.preset.name}
        write_atomic(ComparisonDir(out).manifest, json.dumps(mine, indent=2) + "\n")


def check_model(model: str) -> None:
    """Refuse a model that cannot be loaded before anything is written: its tokenizer is the cheap part to
    load (the same load, and the same one-line error, as every run's)."""
    from core.models import load_tokenizer

    load_tokenizer(model)


def check_strategies_fit(settings, num_labels: int) -> None:
    """Refuse a strategy that cannot work on the model (BitFit on a model without biases, LLRD on shared
    layers, prefix tuning on an encoder without a key/value cache) before anything is written: each
    strategy's model is built once with its defaults, as its first trial will build it."""
    from core.build import build_model
    from core.costs import release_freed_memory

    for strategy in settings.strategies:
        cli.FAILURE.subject = f"strategy {strategy.name}"  # a library failing here is named with its strategy
        try:
            build_model(settings.run, strategy(), num_labels, total_steps=100)
        except UserError as error:
            raise UserError(f"{error}; leave {strategy.name} out of --strategies") from None
    cli.FAILURE.subject = None
    release_freed_memory()


def take_lock(out: Path):
    """One coordinating process per output directory; the lock dies with the process."""
    handle = open(ComparisonDir(out).lock, "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise UserError(f"another runners.compare is already running in {out}; wait for it or use --workers") from None
    return handle


def die_with_parent() -> None:
    """Linux: a worker process is killed when its coordinator dies, so none outlives a kill."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def spawn_workers(argv: Sequence[str], count: int, out: Path) -> list[subprocess.Popen]:
    log = open(ComparisonDir(out).workers_log, "a")
    return [subprocess.Popen([sys.executable, "-m", "runners.compare", *argv, "--worker-index", str(index), "--quiet",
                              "--no-report"], stdout=log, stderr=log, preexec_fn=die_with_parent)
            for index in range(1, count)]


def setup_logging(out: Path) -> logging.Logger:
    """Everything that happens goes to ``compare.log`` in the comparison directory, and so does the traceback
    of a failure that ends the command (core.cli)."""
    from core.layout import ComparisonDir

    path = ComparisonDir(out).log
    cli.FAILURE.log = path
    logger = logging.getLogger("peftbench")
    logger.setLevel(logging.INFO)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(message)s"))
    for name in ("peftbench", "optuna"):
        for old in [h for h in logging.getLogger(name).handlers if isinstance(h, logging.FileHandler)]:
            logging.getLogger(name).removeHandler(old)
            old.close()
        logging.getLogger(name).addHandler(handler)
    quiet_optuna()
    return logger


def quiet_optuna() -> None:
    """Optuna logs to the comparison's log only, and its experimental-feature warnings (heartbeats on a
    shared storage) are not printed: stderr stays the progress, or the one line of a refusal."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.logging.disable_default_handler()
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.list_strategies:
        print(strategy_listing())
        return 0
    if args.train_sizes is not None:
        return run_sweep(args, argv)
    settings = settings_from_args(args)
    settings.validate()
    return compare(args, argv, settings, Path(args.out or default_out(settings)))


def default_out(settings) -> str:
    return str(RUNS_ROOT / run_name(settings.task, settings.model, settings.preset.name))


def compare(args, argv: Sequence[str], settings, out: Path, data=None, storage=None) -> int:
    """One comparison: the whole command, or one size of a sweep, for which ``run_sweep`` has already made
    every check (``data`` given) and opened a shared ``storage``."""
    settings.run.output_dir = str(out)  # seed runs save their trained weights under out/models/ (studies.compare)
    checked = data is not None
    coordinator = settings.worker_index == 0
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // settings.workers))
    from studies.compare import load_data
    from studies.storage import choose_storage, open_storage

    # Everything that can refuse the command is checked before anything is written: a refused comparison
    # leaves no --out behind (or leaves an existing one as it was), so the corrected command can run.
    if coordinator and not checked:
        check_out(out, settings)
        from studies.trackers import check as check_trackers

        check_trackers(args.log_to, args.mlflow_uri)
    elif not coordinator and not out.is_dir():
        raise UserError(f"worker started for {out}, which does not exist")
    if data is None:
        data = load_data(settings)  # the task and its files; the comparison uses this copy, it is not loaded again
    settings.check_metric(data.spec.metric)
    if coordinator and not checked:
        check_model(settings.model)
        check_strategies_fit(settings, data.spec.num_labels)
    choice = choose_storage(args.storage, out, settings.workers)
    quiet_optuna()
    # a shared storage is opened (and its server reached) now; the default one is a file inside --out
    if storage is None and not choice.local:
        storage = open_storage(choice, args.heartbeat_interval, args.grace_period)
    if coordinator:
        out.mkdir(parents=True, exist_ok=True)
        write_manifest(out, settings)
    logger = setup_logging(out)
    lock = take_lock(out) if coordinator and choice.local else None
    try:
        if storage is None:
            storage = open_storage(choice, args.heartbeat_interval, args.grace_period)
        return run_comparison(args, argv, settings, out, choice, storage, data, lock is not None, logger)
    finally:
        if lock is not None:
            lock.close()


def run_sweep(args, argv: Sequence[str]) -> int:
    """``--train-sizes``: one ordinary comparison per size, smallest first, each in ``<out>/train-<size>/``
    (resumable and reportable on its own), then the sweep's report in ``<out>/report/``. Every size is checked
    before anything is written; sizes may share a --storage, under study names that end in their size."""
    from core.layout import SweepDir, size_dir, size_label
    from reports.sweep import manifest_text, parse_train_sizes

    if args.train_size is not None:
        raise UserError("give --train-size N (one comparison) or --train-sizes LIST (a sweep), not both")
    plans = [(size, sweep_settings(args, size)) for size in parse_train_sizes(args.train_sizes)]
    out = Path(args.out or default_out(plans[0][1]) + "-sweep")
    if args.sweep_size is not None:  # a worker process of one size, spawned by that size's comparison
        settings = next((settings for size, settings in plans if size_label(size) == args.sweep_size), None)
        if settings is None:
            raise UserError(f"worker started for size {args.sweep_size}, which is not in --train-sizes")
        settings.validate()
        return compare(args, argv, settings, out / size_dir(settings.run.train_size))
    for _, settings in plans:
        settings.validate()
    existing = check_sweep_out(out, plans)
    loaded = load_sweep_data(plans)
    from studies.trackers import check as check_trackers

    check_trackers(args.log_to, args.mlflow_uri)
    first = plans[0][1]
    check_model(first.model)
    check_strategies_fit(first, loaded[0].spec.num_labels)
    storage = None
    if args.storage:  # a shared storage is opened (and its server reached) before anything is written
        from studies.storage import choose_storage, open_storage

        quiet_optuna()
        storage = open_storage(choose_storage(args.storage, out, first.workers), args.heartbeat_interval,
                               args.grace_period)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(SweepDir(out).manifest, manifest_text(first.task, first.model, first.preset.name,
                                                 [size for size, _ in plans], existing))
    partial = False
    for number, ((size, settings), data) in enumerate(zip(plans, loaded), start=1):
        if not args.quiet:
            print(f"sweep: size {number} of {len(plans)}, {len(data.train):,} training examples", file=sys.stderr)
        code = compare(args, [*argv, "--sweep-size", size_label(size)], settings, out / size_dir(size), data,
                       storage)
        if code not in (Exit.OK, Exit.PARTIAL):
            return code
        partial = partial or code == Exit.PARTIAL  # a size without every strategy: the sweep goes on, and says so
        if not args.no_report:  # after every size, so a sweep stopped half-way has a report of what it measured
            from reports.sweep_render import write_sweep_report

            report = write_sweep_report(out)
    if not args.no_report:
        print(f"sweep report: {report}")
    return Exit.PARTIAL if partial else Exit.OK


def sweep_settings(args: argparse.Namespace, size: int | None):
    """One size's comparison settings: the command's, with that training-set size (None: all of it)."""
    from dataclasses import replace

    from core.layout import size_dir

    settings = settings_from_args(args)
    settings.run = replace(settings.run, train_size=size)
    settings.preset = replace(settings.preset, train_size=size)
    settings.study_suffix = f"-{size_dir(size)}"
    return settings


def check_sweep_out(out: Path, plans) -> dict | None:
    """Reading only: ``--out`` holds nothing, or this sweep (same task and model), and every size's directory
    can hold its comparison. Returns the sweep's manifest, if it has one."""
    from core.layout import size_dir
    from reports.sweep import read_manifest

    check_directory_target(out)
    if ComparisonDir(out).manifest.exists():
        raise UserError(f"{out} holds a single comparison, not a data-size sweep; use another --out")
    existing = read_manifest(out)
    settings = plans[0][1]
    for key, mine in (("task", settings.task), ("model", settings.model)):
        if existing and existing.get(key) != mine:
            raise UserError(f"{out} holds a sweep of {key} {existing.get(key)!r}, not {mine!r}; use another --out")
    for size, settings in plans:
        check_out(out / size_dir(size), settings)
    return existing


def load_sweep_data(plans) -> list:
    """Every size's data (the task read once per size, as a comparison reads it); a size larger than the
    training set is refused rather than silently trained on all of it, twice."""
    from studies.compare import load_data

    loaded = []
    for size, settings in plans:
        data = load_data(settings)
        settings.check_metric(data.spec.metric)
        whole = f"the {data.full_train_size:,} training examples {settings.task} has (after any split carved from it)"
        if size is not None and size > data.full_train_size:
            raise UserError(f"--train-sizes: {size:,} is more than {whole}; use all instead")
        if size == data.full_train_size and plans[-1][0] is None:
            raise UserError(f"--train-sizes: {size:,} is all of {whole}, the same as all; leave one of them out")
        loaded.append(data)
    return loaded


def run_comparison(args, argv, settings, out: Path, choice, storage, data, locked: bool,
                   logger: logging.Logger) -> int:
    from core.schema import save_results
    from studies import results
    from studies.compare import Comparison
    from studies.storage import redact
    from studies.trackers import Tracking

    coordinator = settings.worker_index == 0
    settings.extra = {"shared_storage": not choice.local, "heartbeat_interval": args.heartbeat_interval,
                      "grace_period": args.grace_period}
    progress = Progress(settings, quiet=args.quiet or not coordinator, logger=logger)
    tracking = Tracking.open(args.log_to, out, args.mlflow_uri, settings, data.spec.metric)
    comparison = Comparison(settings, storage, on_run_finished=progress.finished, data=data,
                            on_trial_stored=tracking.log_trial)
    progress.bar.update(comparison.finished_runs())
    if locked:
        requeued = comparison.requeue_all_running()
        if requeued:
            progress.say(f"resuming: {requeued} trial(s) interrupted by an earlier kill will run again")
    if not coordinator:
        comparison.run()
        return 0

    created = results.previous_created(out)
    write = lambda: save_results(results.build(comparison, redact(choice.url), created), out)  # noqa: E731
    progress.say(f"comparing {', '.join(settings.names)} on {settings.task} "
                 f"({settings.preset.name} preset, budget {settings.budget:g} {settings.budget_kind} per strategy, "
                 f"{settings.seeds} seeds) → {out}")
    workers = spawn_workers(argv, settings.workers, out)
    try:
        comparison.run(after_strategy=write)
    finally:
        for worker in workers:
            worker.wait()
    if locked:  # runs finished before --log-to was given, or whose logging a kill cut short
        backfilled = tracking.sync(comparison.existing_studies())
        if backfilled:
            progress.say(f"trackers: logged {backfilled} finished run(s) they did not have yet")
    if tracking.failed:
        progress.say(f"trackers: {', '.join(tracking.failed)} stopped logging after an error (compare.log says why); "
                     f"run the same command again to log what they missed")
    progress.close()
    path = write()
    final = results.build(comparison, redact(choice.url), created)
    print(ranking_table(final))
    if not args.no_report:
        from runners.report import write_report

        report = write_report(out, style="paper")
        print(f"report: {report}")
    print(f"results: {path}")
    if final.partial:
        print(partial_line(final, out))
        return Exit.PARTIAL
    return Exit.OK


def partial_line(results, out: Path) -> str:
    """The last line of a partial comparison: each strategy without every seed run, its error, the log to read."""
    parts = []
    for name in results.partial:
        record = results.strategies[name]
        what = "no result" if not record.seed_runs else \
            f"{len(record.seed_runs)} of {results.settings['seeds']} seed runs"
        error = f"{record.error.message[:200]}; see {out / record.error.log}" if record.error else "no error recorded"
        parts.append(f"{name} ({what}: {error})")
    return "partial comparison: " + "; ".join(parts)


class Progress:
    """One bar for the whole comparison (the core draws one per run); plain lines in the log."""

    def __init__(self, settings, quiet: bool, logger: logging.Logger):
        from tqdm.auto import tqdm

        from studies.compare import FRONT_SEED_CONFIGS

        seed_runs = settings.seeds * (FRONT_SEED_CONFIGS if settings.multi_objective else 1)  # at most, with a front
        runs = len(settings.strategies) * (settings.budget + seed_runs) if settings.budget_kind == "trials" else None
        self.logger = logger
        self.quiet = quiet
        self.bar = tqdm(total=runs, desc="comparison", unit="run", disable=quiet, dynamic_ncols=True, position=0)

    def finished(self, line: str) -> None:
        self.logger.info(line)
        self.bar.update()
        if not self.quiet:
            self.bar.write(line, file=sys.stderr)

    def say(self, line: str) -> None:
        self.logger.info(line)
        if not self.quiet:
            self.bar.write(line, file=sys.stderr)

    def close(self) -> None:
        self.bar.close()


def ranking_table(results) -> str:
    """The short ranking printed at the end: by held-out mean over seeds. A score that is undefined (null,
    core.metrics) is left out; a strategy with none is listed last as n/a, never ranked by it."""
    import statistics

    metric = results.task.metric
    split = results.split
    rows = []
    for name, record in results.strategies.items():
        runs = record.seed_runs
        if not runs:
            rows.append((float("-inf"), f"{name:9}  {record.status}: no seed runs"))
            continue
        held = list(record.scores(split, metric).values())
        dev = list(record.scores("dev", metric).values())
        if not held:
            rows.append((float("-inf"), f"{name:9}  n/a: {metric} is undefined on every seed run"))
            continue
        mean = statistics.mean(held)
        spread = statistics.stdev(held) if len(held) > 1 else 0.0
        first = runs[0]
        dev_mean = f"{statistics.mean(dev):.4f}" if dev else "   n/a"
        rows.append((mean, f"{name:9}  {mean:.4f} ± {spread:.4f}  {dev_mean}  "
                           f"{first.trainable_percent:8.3f}%  "
                           f"{statistics.mean(r.train_seconds for r in runs):7.1f}s  "
                           f"{max(r.peak_memory_bytes for r in runs) / 2**20:7.0f} MiB"))
    header = (f"rank strategy   {'held-out' if split == 'test' else 'dev'} {metric} (mean ± sd, "
              f"{results.settings['seeds']} seeds)  dev  trainable  train time  peak memory")
    lines = [header] + [f"{i:>4} {row}" for i, (_, row) in enumerate(sorted(rows, key=lambda r: -r[0]), start=1)]
    return "\n".join(lines)


if __name__ == "__main__":
    cli.run_main(main)
