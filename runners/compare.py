"""Compare strategies: ``python -m runners.compare --task sst2``.

Tunes every strategy with Optuna on an equal budget (dev split only), re-trains each best configuration
with several seeds (scored on dev and a held-out split), writes ``results.json`` and the report, and
prints a ranking. Re-running the same command resumes: finished trials and seed runs are not repeated.
``--train-sizes 100,500,...,all`` is a data-size sweep: that comparison once per training-set size, each in
``<out>/train-<size>/``, then a report across the sizes (reports.sweep).
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from core import cli
from core.errors import UserError
from core.exits import Exit
from core.layout import RUNS_ROOT, run_name
from runners.common import add_run_arguments, strategy_listing
from runners.flags import add_margin_argument
from strategies import DEFAULT_GROUP, STRATEGIES, groups



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
    where.add_argument("--workers", type=cli.positive_int,
                       help="worker processes on this machine sharing the storage (default: 1 on a CPU; on a GPU as "
                            "many as fit, at most 8, the count measured fastest on an H200); several workers make "
                            "the search unreproducible, and the report says so")
    where.add_argument("--heartbeat-interval", type=cli.positive_int, default=20,
                       help="seconds between a worker's heartbeats on a shared RDB storage (default: 20)")
    where.add_argument("--grace-period", type=cli.positive_int, default=60,
                       help="seconds without a heartbeat before a trial counts as dead and is re-queued (default: 60)")
    where.add_argument("--no-report", action="store_true", help="write results.json only, no report")
    add_margin_argument(where)
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
        data_seed=args.data_seed, workers=args.workers or default_workers(args.device, preset.model),
        worker_index=args.worker_index, objectives=objectives,
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.list_strategies:
        print(strategy_listing())
        return Exit.OK
    from studies import orchestrate

    options = orchestrate.Options(
        out=Path(args.out or "."), storage=args.storage, heartbeat_interval=args.heartbeat_interval,
        grace_period=args.grace_period, log_to=args.log_to, mlflow_uri=args.mlflow_uri,
        named=frozenset(name.strip() for name in args.strategies.split(",") if name.strip() in STRATEGIES),
        worker_command=(sys.executable, "-m", "runners.compare", *argv))
    progress = progress_for(args.quiet)
    if args.train_sizes is not None:
        return run_sweep(args, options, progress)
    settings = settings_from_args(args)
    settings.validate()
    out = Path(args.out or default_out(settings))
    return finish(orchestrate.compare(settings, replace(options, out=out), progress), args.no_report, args.margin)


def default_out(settings) -> str:
    return str(RUNS_ROOT / run_name(settings.task, settings.model, settings.preset.name))


def progress_for(quiet: bool):
    """The progress a comparison's processes show: the coordinator's bar and lines, unless --quiet."""
    return lambda settings, coordinator, logger: Progress(settings, quiet or not coordinator, logger)


def finish(outcome, no_report: bool, margin: float | None = None) -> int:
    """Print what a comparison ended with (a worker process prints nothing) and return its exit status."""
    record = outcome.record
    if record is None:
        return Exit.OK
    for note in outcome.notes:
        print(note, file=sys.stderr)
    print(ranking_table(record, margin))
    if not no_report:
        from runners.report import write_report

        print(f"report: {write_report(outcome.out, style='paper', margin=margin)}")
    print(f"results: {outcome.out / 'results.json'}")
    if record.partial:
        print(partial_line(record, outcome.out))
        return Exit.PARTIAL
    return Exit.OK


def run_sweep(args: argparse.Namespace, options, progress) -> int:
    """``--train-sizes``: one comparison per size (studies.orchestrate.sweep), the sweep's report after each."""
    from studies import orchestrate
    from core.sweep_manifest import parse_train_sizes

    if args.train_size is not None:
        raise UserError("give --train-size N (one comparison) or --train-sizes LIST (a sweep), not both")
    plans = [(size, sweep_settings(args, size)) for size in parse_train_sizes(args.train_sizes)]
    options = replace(options, out=Path(args.out or default_out(plans[0][1]) + "-sweep"))
    if args.sweep_size is not None:  # a worker process of one size, started by that size's comparison
        return finish(orchestrate.sweep_worker(plans, args.sweep_size, options, progress), no_report=True)

    codes, reports = [], []

    def after_size(outcome) -> None:  # each size is printed as it ends, and the sweep's report then includes it
        codes.append(finish(outcome, args.no_report, args.margin))
        if not args.no_report:
            from reports.sweep_render import write_sweep_report

            reports.append(write_sweep_report(options.out, margin=args.margin))

    orchestrate.sweep(plans, options, progress, after_size)
    if reports:
        print(f"sweep report: {reports[-1]}")
    return Exit.PARTIAL if Exit.PARTIAL in codes else Exit.OK


def sweep_settings(args: argparse.Namespace, size: int | None):
    """One size's comparison settings: the command's, with that training-set size (None: all of it)."""
    from core.layout import size_dir

    settings = settings_from_args(args)
    settings.run = replace(settings.run, train_size=size)
    settings.preset = replace(settings.preset, train_size=size)
    settings.study_suffix = f"-{size_dir(size)}"
    return settings


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

    def advance(self, runs: int) -> None:
        self.bar.update(runs)

    def say(self, line: str) -> None:
        self.logger.info(line)
        if not self.quiet:
            self.bar.write(line, file=sys.stderr)

    def close(self) -> None:
        self.bar.close()


def ranking_table(results, margin: float | None = None) -> str:
    """The short ranking printed at the end, in report.md's order (reports.conclusions: best first): each
    strategy's mean ± sd on the ranking split and its 95% interval, marked where it is in the top group or did
    not learn; then the top group, the baseline and how they were judged. A strategy without a score (no seed
    runs, or its metric undefined on every seed run) is listed last."""
    import statistics

    from reports.conclusions import conclude

    conclusions = conclude(results, margin)
    analysis, split, metric = conclusions.analysis, conclusions.split, results.task.metric
    lines = [f"rank strategy   {'held-out' if split == 'test' else 'dev'} {metric} (mean ± sd, "
             f"{results.settings.get('seeds', results.seeds)} seeds)  95% interval        dev  trainable  train time  "
             "peak memory"]
    for rank, name in enumerate(conclusions.order, start=1):
        record = results.strategies[name]
        runs = record.seed_runs
        if not runs:
            lines.append(f"{rank:>4} {name:9}  {record.status}: no seed runs")
            continue
        held = list(record.scores(split, metric).values())
        if not held:
            lines.append(f"{rank:>4} {name:9}  n/a: {metric} is undefined on every seed run")
            continue
        spread = statistics.stdev(held) if len(held) > 1 else 0.0
        interval = analysis.scores.get(name) if analysis else None
        shown = f"[{interval.low:.4f}, {interval.high:.4f}]" if interval else f"{'n/a':18}"
        dev = list(record.scores("dev", metric).values())
        mark = ("did not learn" if conclusions.learned(name) is False else
                "top group" if name in conclusions.top_group else "")
        lines.append(f"{rank:>4} {name:9}  {statistics.mean(held):.4f} ± {spread:.4f}  {shown}  "
                     f"{statistics.mean(dev):.4f}  {runs[0].trainable_percent:8.3f}%  "
                     f"{statistics.mean(r.train_seconds for r in runs):7.1f}s  "
                     f"{max(r.peak_memory_bytes for r in runs) / 2**20:7.0f} MiB  {mark}".rstrip())
    if analysis is None:
        lines.append(f"no intervals or verdicts: {conclusions.unavailable}")
    else:
        lines.append(f"top group (not shown worse than the best; margin ±{analysis.margin:g}, "
                     f"{analysis.correction}): {', '.join(analysis.top_group)}")
        lines.append(f"baseline: {analysis.baseline.description}")
    if not conclusions.per_row:
        lines.append(f"evidence: {conclusions.evidence}")
    return "\n".join(lines)

if __name__ == "__main__":
    cli.run_main(main)
