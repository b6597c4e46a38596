"""Compare strategies: ``python -m runners.compare --task sst2``.

Tunes every strategy with Optuna on an equal budget (dev split only), re-trains each best configuration
with several seeds (scored on dev and a held-out split), writes ``results.json`` and the report, and
prints a ranking. Re-running the same command resumes: finished trials and seed runs are not repeated.
``--train-sizes 100,500,...,all`` is a data-size sweep: that comparison once per training-set size, each in
``<out>/train-<size>/``, then a report across the sizes (reports.sweep).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from peftbench import cli
from peftbench.errors import UserError
from peftbench.exits import Exit
from runners.comparing import (add_comparison_arguments, default_out, options_from_args, partial_status,
                               progress_for, settings_from_args, write_outputs)
from runners.common import strategy_listing
from runners.flags import add_margin_argument


def build_parser() -> cli.ArgumentParser:
    from studies.compare import BUDGET_KINDS

    parser = cli.ArgumentParser(prog="python -m runners.compare", description=__doc__, exits=(Exit.PARTIAL,))
    budget, search = add_comparison_arguments(parser)
    budget.description = "equal for every strategy"
    budget.add_argument("--budget-kind", choices=BUDGET_KINDS, default="trials",
                        help="count the tuning budget in trials, training samples seen, or wall-clock seconds")
    budget.add_argument("--budget", type=cli.positive_float,
                        help="tuning budget per strategy in --budget-kind units (default: the preset's trials)")
    budget.add_argument("--seeds", type=cli.positive_int, help="seed re-runs of each best configuration")
    budget.add_argument("--train-sizes", metavar="100,500,...,all",
                        help="a data-size sweep: one comparison per training-set size (all: the whole training set), "
                             "smallest first, each in --out/train-<size>/, then a report across sizes in --out/report/")
    search.add_argument("--objectives", help="search each strategy for a Pareto set instead of one best configuration: "
                        "the task's metric (e.g. accuracy), then costs to minimise, from trainable_params, peak_memory, "
                        "train_time; e.g. accuracy,trainable_params (default: the metric alone)")
    parser.add_argument("--sweep-size", help=argparse.SUPPRESS)  # a worker's size of a sweep (run_sweep)
    add_margin_argument(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.list_strategies:
        print(strategy_listing())
        return Exit.OK
    from studies import orchestrate

    options = options_from_args(args, argv, "runners.compare")
    progress = progress_for(args.quiet)
    if args.train_sizes is not None:
        return run_sweep(args, options, progress)
    settings = settings_from_args(args)
    settings.validate()
    out = Path(args.out) if args.out else default_out(settings)
    return finish(orchestrate.compare(settings, replace(options, out=out), progress), args.no_report, args.margin)


def finish(outcome, no_report: bool, margin: float | None = None) -> int:
    """Print what a comparison ended with (a worker process prints nothing) and return its exit status."""
    if outcome.record is None:
        return Exit.OK
    print(ranking_table(outcome.record, margin))
    write_outputs(outcome, no_report, margin)
    return partial_status(outcome) or Exit.OK


def run_sweep(args: argparse.Namespace, options, progress) -> int:
    """``--train-sizes``: one comparison per size (studies.orchestrate.sweep), the sweep's report after each."""
    from studies import orchestrate
    from peftbench.sweep_manifest import parse_train_sizes

    if args.train_size is not None:
        raise UserError("give --train-size N (one comparison) or --train-sizes LIST (a sweep), not both")
    plans = [(size, sweep_settings(args, size)) for size in parse_train_sizes(args.train_sizes)]
    options = replace(options, out=Path(args.out) if args.out else default_out(plans[0][1], "-sweep"))
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
    from peftbench.layout import size_dir

    settings = settings_from_args(args)
    settings.run = replace(settings.run, train_size=size)
    settings.preset = replace(settings.preset, train_size=size)
    settings.study_suffix = f"-{size_dir(size)}"
    return settings


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
