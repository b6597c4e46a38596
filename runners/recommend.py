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

from typing import Sequence

from peftbench import cli
from peftbench.errors import UserError
from peftbench.exits import Exit
from peftbench.schema import load_results
from peftbench.sweep_manifest import is_sweep
from reports.recommend import recommend, render
from reports.sweep import load_sweep, recommend_at, render_at
from runners.flags import add_constraint_arguments, add_margin_argument, add_prefer_argument, constraints_from_args

def build_parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(prog="python -m runners.recommend", description=__doc__,
                                exits=(Exit.UNDETERMINED, Exit.NOTHING_LEARNED))
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="comparison directory holding results.json")
    add_constraint_arguments(parser)
    parser.add_argument("--cpu-only", action="store_true", help="the strategy must run on a CPU (all of them do; "
                        "states which device the numbers come from)")
    add_prefer_argument(parser)
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
    constraints = constraints_from_args(args, cpu_only=args.cpu_only)
    if sweeps:
        sized = recommend_at(load_sweep(sweeps[0]), args.train_size, constraints, args.prefer, args.margin)
        print(render_at(sized), end="")
        return sized.recommendation.exit_status
    recommendation = recommend(runs, constraints, args.prefer, args.margin)
    print(render(recommendation), end="")
    return recommendation.exit_status


if __name__ == "__main__":
    cli.run_main(main)
