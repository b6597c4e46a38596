"""What the two commands that run a comparison share (``runners.compare`` and ``runners.choose``, a race): their
flags, the settings and options read from them, and the progress and last lines they print."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from peftbench import cli
from peftbench.errors import UserError
from peftbench.exits import Exit
from peftbench.layout import RUNS_ROOT, run_name
from runners.common import add_run_arguments
from strategies import DEFAULT_GROUP, STRATEGIES, groups


def add_comparison_arguments(parser: cli.ArgumentParser) -> tuple[argparse._ArgumentGroup, argparse._ArgumentGroup]:
    """The flags of every comparison: strategies, preset, task and model, data, search, storage, workers and
    output. Returns the budget and search groups, for a command's own flags there."""
    from peftbench.config import TrainConfig
    from peftbench.tasks import PROTOCOLS
    from studies.compare import DEFAULT_PRUNER, PRUNERS, SAMPLERS
    from studies.presets import PRESETS

    parser.add_argument("--strategies", default=DEFAULT_GROUP,
                        help=f"comma-separated strategy names and groups ({', '.join(f'{g}: {len(m)}' for g, m in groups().items())}"
                             f" strategies; --list-strategies shows them) (default: {DEFAULT_GROUP})")
    parser.add_argument("--list-strategies", action="store_true",
                        help="print every strategy, its family and its hyperparameters (defaults and ranges), and exit")
    parser.add_argument("--preset", choices=list(PRESETS), help="; ".join(
        f"{p.name}: {'all' if p.train_size is None else format(p.train_size, ',')} training examples, {p.trials} "
        f"trials, {p.seeds} seeds" for p in PRESETS.values()) + " (default: quick on CPU, full on a GPU)")
    add_run_arguments(parser, model_default=None, max_length_default=None)
    budget = parser.add_argument_group("budget")
    budget.add_argument("--trials", type=cli.positive_int, help="tuning trials per strategy (default: the preset's)")
    budget.add_argument("--train-size", type=cli.positive_int, help="stratified subsample of the training set")
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
    search.add_argument("--sampler-seed", type=cli.non_negative_int, default=0)
    search.add_argument("--data-seed", type=cli.non_negative_int, default=0,
                        help="seed of the train subsample and the split carved from train (default: 0)")
    where = parser.add_argument_group("storage, workers and output")
    where.add_argument("--out", help="output directory (default: runs/<task>-<model>-<preset>, -race for a race)")
    where.add_argument("--storage", help="Optuna storage: a database URL (sqlite:///…, postgresql://user:pw@host/db) "
                       "or a journal file (*.journal); default: a SQLite file in --out")
    where.add_argument("--workers", type=cli.positive_int,
                       help="worker processes on this machine sharing the storage (default: 1 on a CPU; on a GPU as "
                            "many as fit, at most 8, the count measured fastest on an H200); several workers make "
                            "the search unreproducible, and the report says so")
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
    parser.set_defaults(budget_kind="trials", budget=None, seeds=None, objectives=None)  # compare's own flags
    return budget, search


def tracker_names(text: str) -> tuple[str, ...]:
    from studies.trackers import TRACKERS

    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in TRACKERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"trackers are {', '.join(TRACKERS)}, got {text!r}")
    return names


def settings_from_args(args: argparse.Namespace):
    """The comparison's settings (``studies.compare.ComparisonSettings``), every preset value overridden by a flag."""
    from peftbench.config import TrainConfig
    from strategies import select_strategies
    from studies.compare import DEFAULT_PRUNER, ComparisonSettings
    from studies.presets import default_preset_name, resolve_preset
    from studies.workers import default_workers

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
        label_column=args.label_column, train_size=preset.train_size, carve_size=preset.carve_size, metric=args.metric,
        protocol=args.protocol, drop_invalid_rows=args.drop_invalid_rows, max_length=preset.max_length,
        pooling=args.pooling, device=args.device, precision=args.precision, memory_cap_mb=args.memory_cap_mb,
        gradient_checkpointing=args.gradient_checkpointing, progress=not args.quiet,
    )
    objectives = tuple(name.strip() for name in args.objectives.split(",")) if args.objectives else ()
    pruner = args.pruner or ("none" if len(objectives) > 1 else DEFAULT_PRUNER)
    return ComparisonSettings(
        run=run, preset=preset, strategies=strategies, budget_kind=budget_kind, budget=budget,
        seeds=args.seeds or preset.seeds, sampler=args.sampler, pruner=pruner, sampler_seed=args.sampler_seed,
        data_seed=args.data_seed, workers=args.workers or default_workers(args.device, preset.model),
        worker_index=args.worker_index, objectives=objectives,
    )


def options_from_args(args: argparse.Namespace, argv: list[str], command: str):
    """Where and how the comparison runs (``studies.orchestrate.Options``); ``command`` is the runner module every
    worker process runs again with this command line."""
    from studies.orchestrate import Options

    return Options(out=Path(args.out or "."), storage=args.storage, heartbeat_interval=args.heartbeat_interval,
                   grace_period=args.grace_period, log_to=args.log_to, mlflow_uri=args.mlflow_uri,
                   named=frozenset(name.strip() for name in args.strategies.split(",") if name.strip() in STRATEGIES),
                   worker_command=(sys.executable, "-m", command, *argv))


def default_out(settings, suffix: str = "") -> Path:
    return RUNS_ROOT / (run_name(settings.task, settings.model, settings.preset.name) + suffix)


class TerminalProgress:
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

    def advance(self, runs: int) -> None:
        self.bar.update(runs)

    def say(self, line: str) -> None:
        self.logger.info(line)
        if not self.quiet:
            self.bar.write(line, file=sys.stderr)

    def close(self) -> None:
        self.bar.close()


def progress_for(quiet: bool):
    """The progress a comparison's processes show: the coordinator's bar and lines, unless --quiet."""
    return lambda settings, coordinator, logger: TerminalProgress(settings, quiet or not coordinator, logger)


def write_outputs(outcome, no_report: bool, margin: float | None = None) -> None:
    """What every finished comparison prints after its own answer: trackers' notes, the report, results.json."""
    for note in outcome.notes:
        print(note, file=sys.stderr)
    if not no_report:
        from runners.report import write_report

        print(f"report: {write_report(outcome.out, style='paper', margin=margin)}")
    print(f"results: {outcome.out / 'results.json'}")


def partial_line(results, out: Path) -> str | None:
    """The last line of a partial comparison: each strategy without every seed run, its error, the log to read."""
    parts = []
    for name in results.partial:
        record = results.strategies[name]
        what = "no result" if not record.seed_runs else \
            f"{len(record.seed_runs)} of {results.settings['seeds']} seed runs"
        error = f"{record.error.message[:200]}; see {out / record.error.log}" if record.error else "no error recorded"
        parts.append(f"{name} ({what}: {error})")
    return "partial comparison: " + "; ".join(parts) if parts else None


def partial_status(outcome) -> int | None:
    """Exit.PARTIAL, after printing its last line, when a requested strategy has no result; else None."""
    line = partial_line(outcome.record, outcome.out)
    if line is None:
        return None
    print(line)
    return Exit.PARTIAL
