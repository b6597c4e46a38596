"""Re-render a comparison's report from its results.json, without training:
``python -m runners.report RUN_DIR [RUN_DIR ...] [--style paper|slides] [--out DIR]``.

One directory: ``RUN_DIR/report/`` (or ``--out``) gets report.md, table.{md,csv,tex}, expected.csv (expected
best dev score against the number of random-search trials) and every figure as PDF and PNG. Several
directories (tasks or models): each gets its own report, and ``--out`` (default runs/combined-report/)
gets a combined table (strategies × comparisons, with an average) and figure. A data-size sweep
(``runners.compare --train-sizes``): ``SWEEP/report/`` gets the score against training examples, the table
strategies × sizes, where the ranking changes, and the expected-best curves of every size.
"""

from __future__ import annotations

from typing import Sequence

from peftbench import cli
from peftbench.errors import UserError
from peftbench.layout import COMBINED_REPORT_DIR
from reports.render import write_report, write_reports
from reports.style import STYLES
from peftbench.sweep_manifest import is_sweep
from reports.sweep_render import write_sweep_report
from reports.paper_table import DEFAULT_COLUMNS, PAPER_COLUMNS, parse_columns
from runners.flags import add_margin_argument, flag_type

__all__ = ["main", "write_report"]  # write_report: what runners.compare calls after a comparison


def build_parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(prog="python -m runners.report", description=__doc__)
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="comparison directory holding results.json")
    parser.add_argument("--style", choices=list(STYLES), default="paper",
                        help="paper: 3.3-inch single-column figures, fonts ≥ 7 pt; slides: large fonts "
                        "(default: paper)")
    parser.add_argument("--out", help=f"output directory (default: RUN_DIR/report; with several RUN_DIRs the "
                        f"combined report, default {COMBINED_REPORT_DIR}/)")
    add_margin_argument(parser)
    parser.add_argument("--columns", type=flag_type(parse_columns), default=DEFAULT_COLUMNS,
                        help=f"paper.tex's columns, comma-separated, or all: {', '.join(PAPER_COLUMNS)} (default: "
                             f"{','.join(DEFAULT_COLUMNS)}); table.tex keeps every column")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sweeps = [d for d in args.run_dirs if is_sweep(d)]
    if sweeps:
        if len(args.run_dirs) > 1:
            raise UserError(f"{sweeps[0]} is a data-size sweep; report it on its own")
        print(write_sweep_report(sweeps[0], args.style, args.out, args.margin))
        return 0
    for path in write_reports(args.run_dirs, args.style, args.out, args.margin, args.columns):
        print(path)
    return 0


if __name__ == "__main__":
    cli.run_main(main)
