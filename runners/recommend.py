"""Which strategy should I use? ``python -m runners.recommend RUN_DIR [RUN_DIR ...] [--max-memory 8GB]
[--max-train-time 10min] [--max-trainable-params 1M] [--max-artifact-size 50MB] [--max-latency 5ms]
[--max-inference-memory 200MB] [--cpu-only] [--prefer params|memory|time|latency] [--margin 0.05]``.

Answers from results.json alone, from the verdicts of the report (better, equivalent, undetermined; docs/
statistics.md), among the strategies that meet every constraint and learned (beat the majority-class baseline
beyond noise). Never one that another is better than. Among the best and the strategies equivalent to it
within --margin, the one with the lowest cost that --prefer names, where that cost is at least 10% lower;
otherwise the higher score. When the leaders are undetermined it says so (exit 4), names them, says how many
more seeds or held-out rows would likely decide, and names a pragmatic pick, labelled as not shown to be as
good as the best. When no strategy learned it recommends nothing (exit 5) and names the likely causes it can
measure. Then the chosen strategy's hyperparameters, and why each other strategy is out.
From one multi-objective comparison (``runners.compare --objectives``) every configuration of a strategy's
Pareto set that was re-run with seeds is a candidate of its own, named by its trial (``lora (trial 5)``).
Inference limits apply to the trained model as deployed: as trained, or merged where merging the adapter
into the base weights keeps its predictions (``runners.export --merge``), whichever is cheaper.
Sizes take B, KB, MB, GB (powers of 10) or KiB, MiB, GiB (powers of 2); times s, min, h; latencies ms, s, us;
counts k, M, B.

On a data-size sweep (``runners.compare --train-sizes``), ``--train-size N`` answers for your N training
examples: every seed run interpolated linearly in log(training examples) between the two measured sizes around
N (each row's prediction value where they were recorded, else the seed scores), judged as a comparison of its
own; outside the measured sizes, the nearest one, flagged as extrapolation.
"""

from __future__ import annotations

import argparse
from typing import Callable, Sequence, TypeVar

from core import cli
from core.errors import UserError
from core.exits import Exit
from core.schema import load_results
from core.sweep_manifest import is_sweep
from reports.recommend import DEFAULT_PREFERENCE, MATERIAL, PREFERENCES, Constraints, recommend, render
from reports.sweep import load_sweep, recommend_at, render_at
from core.units import parse_bytes, parse_count, parse_milliseconds, parse_seconds
from runners.flags import add_margin_argument

T = TypeVar("T")


def flag_type(parse: Callable[[str], T]) -> Callable[[str], T]:
    """argparse type: a parse error becomes argparse's one-line ``argument --flag: ...`` message."""
    def convert(text: str) -> T:
        try:
            return parse(text)
        except UserError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return convert


def build_parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(prog="python -m runners.recommend", description=__doc__,
                                exits=(Exit.UNDETERMINED, Exit.NOTHING_LEARNED))
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="comparison directory holding results.json")
    parser.add_argument("--max-memory", type=flag_type(parse_bytes), help="peak memory per run, e.g. 8GB, 512MiB")
    parser.add_argument("--max-train-time", type=flag_type(parse_seconds),
                        help="training time per run, e.g. 90s, 10min, 2h")
    parser.add_argument("--max-trainable-params", type=flag_type(parse_count),
                        help="trainable parameters, e.g. 1M, 200k")
    parser.add_argument("--max-artifact-size", type=flag_type(parse_bytes),
                        help="size of what the strategy must save, e.g. 50MB")
    parser.add_argument("--max-latency", type=flag_type(parse_milliseconds),
                        help="inference latency per example at batch 1, e.g. 5ms, 0.5s")
    parser.add_argument("--max-inference-memory", type=flag_type(parse_bytes),
                        help="memory of the deployed model's weights, e.g. 200MB")
    parser.add_argument("--cpu-only", action="store_true", help="the strategy must run on a CPU (all of them do; "
                        "states which device the numbers come from)")
    parser.add_argument("--prefer", choices=list(PREFERENCES), default=DEFAULT_PREFERENCE,
                        help="among the strategies equivalent to the best, recommend the one with the fewest "
                        "trainable parameters (params), the lowest peak memory (memory), the shortest training "
                        "time (time) or the lowest inference latency (latency), where it is at least "
                        f"{MATERIAL * 100:.0f}%% lower; otherwise the higher score (default: {DEFAULT_PREFERENCE})")
    add_margin_argument(parser)
    parser.add_argument("--train-size", type=cli.positive_int,
                        help="your number of training examples: RUN_DIR is then a data-size sweep (runners.compare "
                        "--train-sizes), interpolated between its measured sizes (default for a sweep: its largest)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sweeps = [d for d in args.run_dirs if is_sweep(d)]
    if sweeps and len(args.run_dirs) > 1:
        raise UserError(f"{sweeps[0]} is a data-size sweep; recommend from it on its own (with --train-size N)")
    runs = [] if sweeps else [load_results(d) for d in args.run_dirs]
    if runs and args.train_size is not None:
        measured = ", ".join(f"{run.task.sizes.get('train', 0):,}" for run in runs)
        if len(runs) > 1 or runs[0].task.sizes.get("train") != args.train_size:
            raise UserError(f"--train-size needs a data-size sweep (python -m runners.compare --train-sizes "
                            f"100,500,1000,2000 ...); {', '.join(args.run_dirs)} measured {measured} training examples")
    constraints = Constraints(max_memory_bytes=args.max_memory, max_train_seconds=args.max_train_time,
                              max_trainable_params=args.max_trainable_params,
                              max_artifact_bytes=args.max_artifact_size, max_latency_ms=args.max_latency,
                              max_inference_memory_bytes=args.max_inference_memory, cpu_only=args.cpu_only)
    if sweeps:
        sized = recommend_at(load_sweep(sweeps[0]), args.train_size, constraints, args.prefer, args.margin)
        print(render_at(sized), end="")
        return sized.recommendation.exit_status
    recommendation = recommend(runs, constraints, args.prefer, args.margin)
    print(render(recommendation), end="")
    return recommendation.exit_status


if __name__ == "__main__":
    cli.run_main(main)
