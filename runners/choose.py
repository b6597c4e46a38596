"""Choose a strategy for a task in minutes: ``python -m runners.choose --task sst2 [--strategies all]``.

A race (studies.race) instead of an equal budget: every strategy's defaults run first (with many strategies,
screened at their first evaluations: --screen), then more tuning trials and seed runs go only to the strategies
still in contention, and one the leader is better than (the corrected test of the confidence engine, at --margin)
is dropped at once. It stops when one strategy is left, when all left are equivalent within --margin (the
cheapest on --prefer is chosen where it is materially cheaper), or when the budget is spent (--time-budget,
default 15 min; --run-budget N runs is reproducible with one worker): then it answers with the strategies still
in, undetermined. It writes the same results.json, report and models as a comparison, marked as a race, with the
race's trace; runners.recommend and runners.export work on it. Re-running the same command resumes the race.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from peftbench import cli
from peftbench.errors import UserError
from peftbench.exits import Exit
from peftbench.units import format_seconds, parse_seconds
from runners.common import strategy_listing
from runners.comparing import (add_comparison_arguments, default_out, options_from_args, partial_status,
                               progress_for, settings_from_args, write_outputs)
from runners.flags import (add_constraint_arguments, add_margin_argument, add_prefer_argument, constraints_from_args,
                           flag_type)


def build_parser() -> cli.ArgumentParser:
    from studies.race import DEFAULT_MAX_SEEDS, DEFAULT_TIME_BUDGET, SCREEN_ABOVE, SCREEN_SETTINGS

    parser = cli.ArgumentParser(prog="python -m runners.choose", description=__doc__,
                                exits=(Exit.PARTIAL, Exit.UNDETERMINED))
    budget, _ = add_comparison_arguments(parser)
    budget.description = "the race's budget: strategies still in contention get more"
    spend = budget.add_mutually_exclusive_group()
    spend.add_argument("--time-budget", type=flag_type(parse_seconds), default=float(DEFAULT_TIME_BUDGET),
                       help=f"stop starting runs after this long, e.g. 10min (default: "
                            f"{format_seconds(DEFAULT_TIME_BUDGET)}; not reproducible)")
    spend.add_argument("--run-budget", type=cli.positive_int,
                       help="stop starting runs after this many (tuning trials and seed runs): reproducible with "
                            "one worker and the seeded sampler")
    budget.add_argument("--max-seeds", type=cli.positive_int, default=DEFAULT_MAX_SEEDS,
                        help=f"seed runs per strategy the race may add to decide (default: {DEFAULT_MAX_SEEDS})")
    budget.add_argument("--screen", choices=SCREEN_SETTINGS, default="auto",
                        help=f"round 1 stops a strategy's defaults trial at its first evaluations unless it is in the "
                             f"best third there (successive halving across strategies: by rank, not a test); auto: "
                             f"with more than {SCREEN_ABOVE} strategies (default: auto)")
    race = parser.add_argument_group("the answer")
    add_margin_argument(race)
    add_prefer_argument(race)
    add_constraint_arguments(race)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.list_strategies:
        print(strategy_listing())
        return Exit.OK
    from studies import orchestrate
    from studies.race import RaceSettings, screens, with_race_suffix

    settings = with_race_suffix(settings_from_args(args))
    settings.validate()
    if args.max_seeds < 2:
        raise UserError(f"--max-seeds must be at least 2 (seed variance needs two runs), got {args.max_seeds}")
    race = RaceSettings(
        margin=args.margin, budget_kind="runs" if args.run_budget else "seconds",
        budget=float(args.run_budget or args.time_budget), max_seeds=args.max_seeds, prefer=args.prefer,
        constraints=constraints_from_args(args), screen=screens(args.screen, len(settings.strategies)))
    out = Path(args.out) if args.out else default_out(settings, "-race")
    options = replace(options_from_args(args, argv, "runners.choose"), out=out)
    outcome = orchestrate.compare(settings, options, progress_for(args.quiet), race=race)
    if outcome.record is None:  # a worker process
        return Exit.OK
    print(answer_lines(outcome.record))
    write_outputs(outcome, args.no_report, args.margin)
    return partial_status(outcome) or (Exit.OK if outcome.record.race.answer else Exit.UNDETERMINED)


def answer_lines(record) -> str:
    """The race's answer: the strategy to use, or the strategies it could not tell apart, and how it ended."""
    race = record.race
    looks = max((look.look for look in race.trace), default=0)
    ended = {"one left": "the only strategy left", "all equivalent":
             f"the strategies left were equivalent within ±{race.margin:g}; the cheapest on {race.prefer} where "
             f"materially cheaper", "budget": f"the {race.budget_kind} budget ran out",
             "seeds": "the seed runs reached their most"}[race.stopped]
    lines = [f"race: {looks} look{'s' * (looks != 1)}, {ended}"]
    if race.answer:
        lines.append(f"use {race.answer}")
    else:
        lines.append(f"undetermined: {', '.join(race.top_group) or 'no strategy had 2 seed runs'} "
                     f"{'cannot' if len(race.top_group) > 1 else 'could not'} be told apart yet")
    if race.screened:
        lines.append(f"screened out by rank in round 1 (not a test): {', '.join(race.screened)}")
    if race.unmeasured:
        lines.append(f"not measured before the budget ran out: {', '.join(race.unmeasured)}")
    return "\n".join(lines)


if __name__ == "__main__":
    cli.run_main(main)
