"""Flags shared by the runners that print conclusions (compare, report, recommend); torch-free, unlike
runners.common, so that report and recommend answer without loading the training stack."""

from __future__ import annotations

import argparse

from core import cli


def add_margin_argument(parser: argparse.ArgumentParser) -> None:
    from reports.confidence import DEFAULT_MARGINS

    defaults = ", ".join(f"{metric} {margin:g}" for metric, margin in DEFAULT_MARGINS.items())
    parser.add_argument("--margin", type=cli.positive_float,
                        help="equivalence margin, in the metric's units: two strategies are called equivalent only "
                             "where the simultaneous interval of their difference lies inside ±margin (default by "
                             f"metric: {defaults}; docs/statistics.md says why)")
