"""Train one run: ``python -m runners.train --task sst2 --strategy lora``.

Prints the run's result record as JSON on stdout (progress goes to stderr) and writes it, with the
trained weights as safetensors, to the output directory.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Sequence

from peftbench import cli
from peftbench.config import TrainConfig
from peftbench.errors import UserError
from peftbench.layout import TrainRunDir, check_directory_target, write_atomic
from peftbench.schema import to_json
from runners.common import add_run_arguments, strategy_listing
from strategies import STRATEGIES, get_strategy

DEFAULT_STRATEGY = "lora"
DEFAULTS = TrainConfig()


def build_parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(prog="python -m runners.train", description=__doc__,
                                epilog="--list-strategies prints every strategy with its hyperparameters")
    parser.add_argument("--strategy", default=DEFAULT_STRATEGY,
                        help=f"one of {', '.join(STRATEGIES)} (default: {DEFAULT_STRATEGY})")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a strategy hyperparameter, e.g. --param rank=16 (repeatable; see --list-strategies)")
    parser.add_argument("--list-strategies", action="store_true",
                        help="print every strategy, its family and its hyperparameters (defaults and ranges), and exit")
    add_run_arguments(parser, model_default=DEFAULTS.model, max_length_default=DEFAULTS.max_length)
    train = parser.add_argument_group("training")
    train.add_argument("--train-size", type=cli.positive_int, help="stratified, seeded subsample of the training set")
    train.add_argument("--epochs", type=cli.positive_int, default=DEFAULTS.epochs, help=f"(default: {DEFAULTS.epochs})")
    train.add_argument("--max-steps", type=cli.positive_int, help="stop after this many optimizer steps")
    train.add_argument("--batch-size", type=cli.positive_int, default=DEFAULTS.batch_size,
                       help=f"(default: {DEFAULTS.batch_size})")
    train.add_argument("--lr", type=cli.positive_float, help="peak learning rate (default: the strategy's)")
    train.add_argument("--warmup-ratio", type=float, default=DEFAULTS.warmup_ratio,
                       help=f"fraction of steps of linear warm-up (default: {DEFAULTS.warmup_ratio})")
    train.add_argument("--weight-decay", type=float, default=DEFAULTS.weight_decay,
                       help=f"AdamW weight decay (default: {DEFAULTS.weight_decay})")
    train.add_argument("--eval-every", type=cli.non_negative_int, default=DEFAULTS.eval_every,
                       help="evaluate on dev every N steps; 0 = per epoch")
    train.add_argument("--patience", type=cli.non_negative_int, default=DEFAULTS.patience,
                       help="stop after N evaluations without improvement; 0 = off")
    train.add_argument("--seed", type=cli.non_negative_int, default=DEFAULTS.seed, help=f"(default: {DEFAULTS.seed})")
    train.add_argument("--out", help="output directory (default: runs/train/<task>-<strategy>-<time>); a failure's "
                       "traceback goes to its train.log")
    return parser


def parse_params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UserError(f"--param takes NAME=VALUE, got {pair!r}")
        params[name.strip()] = value.strip()
    return params


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list_strategies:
        print(strategy_listing())
        return 0
    strategy = get_strategy(args.strategy, parse_params(args.param))
    run = TrainRunDir(Path(args.out) if args.out else TrainRunDir.default(args.task, args.strategy).root)
    out = run.root
    check_directory_target(out)
    if run.result.exists():
        raise UserError(f"{out} already holds a finished run; choose another --out")
    cli.FAILURE.subject, cli.FAILURE.log = f"strategy {strategy.name}", run.log
    config = TrainConfig(
        task=args.task, model=args.model, data_dir=args.data_dir,
        text_columns=args.text_columns or (), label_column=args.label_column, train_size=args.train_size,
        metric=args.metric,
        drop_invalid_rows=args.drop_invalid_rows,
        max_length=args.max_length, pooling=args.pooling, lr=args.lr, batch_size=args.batch_size,
        epochs=args.epochs, max_steps=args.max_steps, warmup_ratio=args.warmup_ratio, weight_decay=args.weight_decay,
        eval_every=args.eval_every, patience=args.patience, seed=args.seed, device=args.device,
        precision=args.precision, memory_cap_mb=args.memory_cap_mb, gradient_checkpointing=args.gradient_checkpointing,
        output_dir=str(out), progress=not args.quiet,
    )
    config.validate()
    from peftbench.tasks import load_task
    from peftbench.train import train  # imported late: --help and bad flags answer without loading torch models

    data = load_task(config.task_request())
    result = train(config, strategy, data=data)
    result.dropped_rows = data.dropped_rows
    record = json.dumps(to_json(result), indent=2)
    write_atomic(run.result, record + "\n")
    print(record)
    dev = result.metrics["dev"][result.primary_metric]
    print(f"{result.strategy}: dev {result.primary_metric} {'n/a' if dev is None else f'{dev:.4f}'}, "
          f"{result.trainable_params:,} trainable "
          f"parameters ({result.trainable_percent:.2f}%), {result.train_seconds:.1f}s training, "
          f"peak memory {result.peak_memory_bytes / 2**20:.0f} MiB → {run.result}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    cli.run_main(main)
