"""Which strategy should I use? ``python -m runners.recommend RUN_DIR [RUN_DIR ...] [--max-memory 8GB]
[--max-train-time 10min] [--max-trainable-params 1M] [--max-artifact-size 50MB] [--max-latency 5ms]
[--max-inference-memory 200MB] [--cpu-only] [--prefer params|memory|time|latency]``.

Answers from results.json alone: the best held-out score among strategies meeting every constraint, its
hyperparameters, the runner-up and the margin with its 95% interval, and why each other strategy is out.
When the best strategies are within seed noise of each other (no significant paired difference, and a gap
no larger than their seed spread), the cheapest of them on --prefer is recommended, and the answer says why.
From one multi-objective comparison (``runners.compare --objectives``) every configuration of a strategy's
Pareto set that was re-run with seeds is a candidate of its own, named by its trial (``lora (trial 5)``).
Inference limits apply to the trained model as deployed: as trained, or merged where merging the adapter
into the base weights keeps its predictions (``runners.export --merge``), whichever is cheaper.
Sizes take B, KB, MB, GB (powers of 10) or KiB, MiB, GiB (powers of 2); times s, min, h; latencies ms, s, us;
counts k, M, B.

On a data-size sweep (``runners.compare --train-sizes``), ``--train-size N`` answers for your N training
examples: every seed's score interpolated linearly in log(training examples) between the two measured sizes
around N (outside them, the nearest one, flagged as extrapolation), and "no measurable difference" when the
leaders there are within seed noise.
"""

from __future__ import annotations

import argparse
from typing import Callable, Sequence, TypeVar

from core import cli
from core.errors import UserError
from core.schema import load_results
from reports.recommend import DEFAULT_PREFERENCE, PREFERENCES, Constraints, recommend, render
from core.sweep_manifest import is_sweep
from reports.sweep import load_sweep, recommend_at, render_at
from core.units import parse_bytes, parse_count, parse_milliseconds, parse_seconds

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
    parser = cli.ArgumentParser(prog="python -m runners.recommend", description=__doc__)
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
                        help="when the best strategies are within seed noise, recommend the one with the fewest "
                        "trainable parameters (params), the lowest peak memory (memory), the shortest training "
                        "time (time) or the lowest inference latency (latency) "
                        f"(default: {DEFAULT_PREFERENCE})")
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
        sweep = load_sweep(sweeps[0])
        print(render_at(recommend_at(sweep, args.train_size, constraints, args.prefer)), end="")
        return 0
    print(render(recommend(runs, constraints, args.prefer)), end="")
    return 0


if __name__ == "__main__":
    cli.run_main(main)
