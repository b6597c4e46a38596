"""Flags shared by the runners that print conclusions (compare, report, recommend, choose); torch-free, unlike
runners.common, so that report and recommend answer without loading the training stack."""

from __future__ import annotations

import argparse
from typing import Callable, TypeVar

from peftbench import cli
from peftbench.constraints import DEFAULT_PREFERENCE, LIMITS, MATERIAL, PREFERENCES, Constraints
from peftbench.errors import UserError

T = TypeVar("T")


def add_margin_argument(parser: argparse.ArgumentParser) -> None:
    from reports.confidence import DEFAULT_MARGINS

    defaults = ", ".join(f"{metric} {margin:g}" for metric, margin in DEFAULT_MARGINS.items())
    parser.add_argument("--margin", type=cli.positive_float,
                        help="equivalence margin, in the metric's units: two strategies are called equivalent only "
                             "where the simultaneous interval of their difference lies inside ±margin (default by "
                             f"metric: {defaults}; docs/statistics.md says why)")


def flag_type(parse: Callable[[str], T]) -> Callable[[str], T]:
    """argparse type: a parse error becomes argparse's one-line ``argument --flag: ...`` message."""
    def convert(text: str) -> T:
        try:
            return parse(text)
        except UserError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return convert


def add_constraint_arguments(parser) -> None:
    """One flag per constraint of ``peftbench.constraints.LIMITS`` (``--max-memory 8GB`` and the like)."""
    for limit in LIMITS:
        parser.add_argument(limit.flag, dest=limit.field, metavar=limit.flag[2:].replace("-", "_").upper(),
                            type=flag_type(limit.parse), help=limit.example)


def constraints_from_args(args: argparse.Namespace, cpu_only: bool = False) -> Constraints:
    return Constraints(**{limit.field: getattr(args, limit.field) for limit in LIMITS}, cpu_only=cpu_only)


def add_prefer_argument(parser) -> None:
    parser.add_argument("--prefer", choices=list(PREFERENCES), default=DEFAULT_PREFERENCE,
                        help="among the strategies equivalent to the best, the one with the fewest trainable "
                             "parameters (params), the lowest peak memory (memory), the shortest training time "
                             "(time) or the lowest inference latency (latency), where it is at least "
                             f"{MATERIAL * 100:.0f}%% lower; otherwise the higher score (default: {DEFAULT_PREFERENCE})")
