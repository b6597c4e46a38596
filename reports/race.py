"""A race's part of the report (``runners.choose``): its answer, how and when each strategy left, and the trace of
every strategy's score and compute as the race went on (the table and the ``race-trace`` figure)."""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

from peftbench.records import SPLIT_NAMES, ComparisonRecord, RaceLook, RaceRecord
from peftbench.units import format_count, format_seconds

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from reports.style import Palette, Style

RACE_TRACE = "race-trace"  # the trace figure's file stem
RACE_TRACE_CAPTION = ("The race: each strategy's {split} {metric} at each look (interval at the look's level) against "
                      "the training samples it had spent (dodged sideways where strategies had spent the same); x: "
                      "where it was dropped.")


def race_trace_caption(results: ComparisonRecord) -> str:
    """The trace figure's caption, with what the figure leaves out or cuts."""
    race = results.race
    caption = RACE_TRACE_CAPTION.format(split=SPLIT_NAMES[race.split], metric=results.task.metric)
    if race.screened:
        caption += (f" Not drawn: the {len(race.screened)} strategies screened out in round 1, which have no "
                    f"{SPLIT_NAMES[race.split]} score.")
    low, high = trace_limits(results)
    if any(look.low < low or look.high > high for look in scored_looks(race)):
        caption += (f" An interval that reaches beyond the score's possible range, or is over {WIDE}× the median "
                    f"width (so it would flatten the others), is cut at the axis and ends in an arrowhead.")
    return caption


WIDE = 3  # an interval wider than this many times the median is cut at the trace's axis


def scored_looks(race: RaceRecord) -> list[RaceLook]:
    return [look for look in race.trace if look.estimate is not None]


def trace_limits(results: ComparisonRecord) -> tuple[float, float]:
    """The trace's score axis: every estimate and every interval up to WIDE× the median width (two seed runs at a
    strict level can give one that spans every possible score), within the score's possible range."""
    from reports.plots import score_range

    looks = scored_looks(results.race)
    floor, ceiling = score_range(results.task.metric)
    if not looks:
        return floor, ceiling
    typical = statistics.median(look.high - look.low for look in looks)
    kept = [look for look in looks if look.high - look.low <= WIDE * typical]
    low = min([look.low for look in kept] + [look.estimate for look in looks])
    high = max([look.high for look in kept] + [look.estimate for look in looks])
    pad = 0.05 * ((high - low) or 1.0)
    return max(low - pad, floor), min(high + pad, ceiling)
STOPPED = {"one left": "one strategy was left", "all equivalent": "every strategy left was equivalent to the leader",
           "budget": "the budget ran out", "seeds": "the seed runs reached the most allowed (--max-seeds)"}


def answer(race: RaceRecord) -> str:
    """One sentence: what the race answers, and why it stopped."""
    why = STOPPED.get(race.stopped or "", "it has not finished")
    if race.answer:
        chosen = (f" (the cheapest on {race.prefer} among them, at least 10% cheaper than the leader; else the leader)"
                  if race.stopped == "all equivalent" else "")
        return f"**Use {race.answer}**{chosen}: {why}."
    left = ", ".join(race.top_group) or "none measured"
    return f"**Undetermined**: {why} with {left} still in; they could not be told apart within the race."


def look_levels(race: RaceRecord) -> dict[int, float]:
    """The alpha each look tested at, where the file records it (races before alpha spending do not)."""
    return {look.look: look.alpha for look in race.trace if look.alpha is not None}


def levels(race: RaceRecord) -> str:
    """How the race shared alpha over its looks, with each look's level."""
    if race.spending_power is None:  # a file written before alpha spending
        return (f"Each look tested at α = {race.alpha:g} ÷ {race.looks} looks, so the chance that the truly best "
                f"strategy is ever dropped at a look stays under {race.alpha:g}.")
    tested = ", ".join(f"look {look} at {alpha:.3g}" for look, alpha in sorted(look_levels(race).items()))
    return (f"The looks shared α = {race.alpha:g} by the race's progress p through its budget (or through its most "
            f"looks, {race.looks}; 1 at the last look): together they may spend α · p^{race.spending_power:g}, each "
            f"testing at what it adds{f' ({tested})' if tested else ''}, so the chance that the truly best strategy "
            f"is ever dropped at a look stays under {race.alpha:g} (checked by simulation).")


def rounds(results: ComparisonRecord) -> str:
    """What the rounds after the first gave the strategies still in: a seed run more each, and the rest of the
    tuning trials in the first round whose budget left paid for them (if one did)."""
    race, budget = results.race, results.budget
    if race.tuning_trials is not None and budget.kind == "trials":
        trials = int(budget.per_strategy)
        tuned = next((round_ for round_, done in enumerate(race.tuning_trials, 1) if done >= trials), None)
        if tuned is None and len(race.tuning_trials) > 1:
            return (f"then each round added a seed run to the strategies still in; the budget left never paid for "
                    f"their other {trials - 1} tuning trials, so each was judged by its defaults")
        if tuned is not None and tuned > 2:
            return (f"then each round added a seed run to the strategies still in, and round {tuned}, the first whose "
                    f"budget left paid for them, their other {trials - 1} tuning trials")
    # round 2 tuned (always so in files written before the record kept the rounds)
    return "then the rest of the tuning trials and more seed runs went only to the strategies still in"


def race_markdown(results: ComparisonRecord) -> str:
    """The race's section of report.md."""
    race = results.race
    looks = max((look.look for look in race.trace), default=0)
    budget = (f"{format_seconds(race.budget)} of wall time (not reproducible: it depends on the machine's speed)"
              if race.budget_kind == "seconds" else f"{race.budget:g} runs")
    lines = ["## The race", "", answer(race), "",
             f"A race instead of an equal budget (`runners.choose`): every strategy's defaults ran first, with 2 seed "
             f"runs; {rounds(results)}. After "
             f"each round a look compared them on the {SPLIT_NAMES[race.split]} split with the confidence engine: a "
             f"strategy the leader was *better* than (its corrected interval excludes 0 and lies outside "
             f"±{race.margin:g}) was dropped. {levels(race)} Budget: {budget}; {looks} look{'s' * (looks != 1)} taken."
             + (" With a run budget, one worker and the seeded sampler, the same command gives the same race."
                if race.reproducible else ""), ""]
    if race.screened:
        lines += [f"**Screened out** in round 1 ({len(race.screened)} of {len(strategies_raced(race))}): each "
                  f"strategy's defaults trial went on past its first dev evaluations only if it was in the best third "
                  f"of the strategies' defaults there (successive halving across strategies). That is a ranking at a "
                  f"fraction of the training, not a test: the error rate above covers the drops at the looks, not "
                  f"these. Screened out: {', '.join(race.screened)}.", ""]
    if race.unmeasured:
        lines += [f"Not measured before the budget ran out (no answer about them): {', '.join(race.unmeasured)}.", ""]
    left = race.departures()
    if left:
        lines += ["| strategy | left at look | after spending | why |", "|:--|--:|--:|:--|"]
        lines += [f"| {look.strategy} | {look.look} | {format_count(look.samples)} samples, "
                  f"{format_seconds(look.run_seconds)} | {look.reason} |" for look in left]
        lines.append("")
    lines += ["Trace (each strategy's score at each look, with its interval at the look's level; compute spent so "
              "far in training samples seen):", "", "| look | strategy | seed runs | samples | score [interval] | status |",
              "|--:|:--|--:|--:|:--|:--|"]
    lines += [f"| {look.look} | {look.strategy} | {look.seed_runs} | {format_count(look.samples)} | {score_cell(look)} "
              f"| {look.status} |" for look in race.trace if look.look > 0]
    lines.append("")
    return "\n".join(lines)


def strategies_raced(race: RaceRecord) -> list[str]:
    return list(dict.fromkeys(look.strategy for look in race.trace))


def score_cell(look: RaceLook) -> str:
    if look.estimate is None:
        return "–"
    return f"{look.estimate:.3f} [{look.low:.3f}, {look.high:.3f}]"


def race_trace(results: ComparisonRecord, style: Style, palette: Palette) -> Figure:
    """Each strategy's score against the training samples it had spent, look by look, with its interval; where a
    strategy left the race, an ×."""
    from matplotlib.ticker import FuncFormatter

    from reports.plots import legend_below, new_figure

    race = results.race
    low, high = trace_limits(results)
    fig = new_figure(style, 1.3)
    ax = fig.add_subplot()
    names = list(dict.fromkeys(look.strategy for look in race.trace if look.estimate is not None))
    spent = [look.samples for look in race.trace if look.estimate is not None] or [1]
    dodge = 0.01 * ((max(spent) - min(spent)) or max(spent))  # every strategy starts at the same spend
    for index, name in enumerate(names):
        looks = [look for look in race.trace if look.strategy == name and look.estimate is not None]
        xs = [look.samples + (index - (len(names) - 1) / 2) * dodge for look in looks]
        ax.errorbar(xs, [look.estimate for look in looks],
                    yerr=[[look.estimate - look.low for look in looks], [look.high - look.estimate for look in looks]],
                    color=palette.color(name), marker=palette.marker(name), markersize=style.marker_size * 0.8,
                    capsize=2, linewidth=1)
        for x, look in zip(xs, looks):  # where the interval is cut at the axis, an arrowhead
            for end, limit, marker in ((look.low, low, "v"), (look.high, high, "^")):
                if (end < limit) if marker == "v" else (end > limit):
                    ax.plot(x, limit, marker=marker, color=palette.color(name), markersize=style.marker_size * 0.8,
                            linestyle="none", clip_on=False)
        gone = next((look for look in race.trace if look.strategy == name and look.status == "dropped"), None)
        if gone is not None and looks:
            ax.plot(xs[-1], looks[-1].estimate, marker="x", color="black", markersize=style.marker_size * 1.4,
                    linestyle="none")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: format_count(value)))
    ax.set_xlabel("training samples spent (trials and seed runs)")
    ax.set_ylabel(f"{SPLIT_NAMES[race.split]} {results.task.metric}")
    ax.set_ylim(low, high)
    ax.grid(True, alpha=0.3)
    legend_below(fig, names, style, palette, lines=True)
    return fig
