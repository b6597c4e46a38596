"""A data-size sweep's report, ``<sweep>/report/``, regenerated from the per-size results.json files alone
(reports.sweep): the held-out score against training examples per strategy (``data-size.{png,pdf}``, its
data in ``data-size.csv``), the table strategies × sizes (``table.{md,csv,tex}``), the top group and the
verdict of every pair at every size (``verdicts.{md,csv,tex}``), where the order changes and whether beyond
noise, the expected best dev score against search budget at every size (``expected-best.{png,pdf}``,
``expected.csv``), and links to each size's own report.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

from peftbench.layout import REPORT_DIR, size_dir, size_label
from peftbench.records import SPLIT_NAMES
from reports import tables
from reports.conclusions import VERDICT_MEANINGS, Conclusions
from reports.confidence import ALPHA
from reports.recommend import FEW_STEPS, render as render_recommendation
from reports.render import bullets, figure_markdown, report_directory, write_tables
from reports.style import STYLES, Style
from reports.sweep import (Ahead, Crossing, Curve, SizeLeaders, Sweep, SweepPoint, crossings, curves, judged, leaders,
                           load_sweep, recommend_at)
from peftbench.units import format_count

if TYPE_CHECKING:  # matplotlib: only when figures are drawn
    from matplotlib.figure import Figure

    from reports.plots import Plot
    from reports.style import Palette

SizeTables = list[tuple[SweepPoint, tables.MainTable]]  # every size's main table (its expected-best curves)


def write_sweep_report(directory: Path | str, style: str = "paper", out: Path | str | None = None,
                       margin: float | None = None) -> Path:
    """Regenerate ``SWEEP/report/`` (or ``out``) from the sweep's results.json files, verdicts at equivalence
    ``margin`` (default: the engine's for the metric); returns report.md."""
    sweep = load_sweep(directory)
    target = Path(out) if out else sweep.directory / REPORT_DIR
    concluded = judged(sweep, margin)
    found = curves(sweep, concluded)
    grid = sweep_grid(sweep, found)
    notes = sweep_notes(sweep, concluded)
    changes, leading = crossings(sweep, concluded), leaders(sweep, concluded)
    tables_by_size = [(point, tables.main_table(point.results)) for point in sweep.points]
    pairs = verdict_grid(sweep, concluded)
    with report_directory(target) as stage:
        write_tables(stage, "table", grid, sweep_csv(sweep, found), notes)
        if pairs is not None:
            write_tables(stage, "verdicts", pairs, verdict_csv(sweep, concluded), [])
        (stage / "data-size.csv").write_text(curve_csv(found))
        (stage / "expected.csv").write_text(expected_csv(tables_by_size))
        plots = write_sweep_figures(sweep, found, tables_by_size, stage, STYLES[style])
        (stage / "report.md").write_text(sweep_markdown(sweep, grid, notes, changes, leading, pairs, plots, target,
                                                        margin))
    return target / "report.md"


# ----------------------------------------------------------------------------- tables and their data
def sweep_grid(sweep: Sweep, found: list[Curve]) -> tables.Grid:
    """Strategies × sizes: mean ± sd over seeds on the ranking split; bold: the top group at each size."""
    columns = [tables.Column("strategy", "Strategy", align="l"), tables.Column("family", "Family", align="l")]
    columns += [tables.Column(f"{point.examples:,} examples", tables.tex_escape(f"{point.examples:,}"))
                for point in sweep.points]
    rows = []
    for curve in found:
        by_label = {p.label: p for p in curve.points}
        cells = []
        for point in sweep.points:
            found_here = by_label.get(point.label)
            cells.append(tables.mean_cell(found_here.summary, True, found_here.top) if found_here
                         else tables.Cell(tables.NONE))
        rows.append([tables.Cell(curve.strategy), tables.Cell(curve.family)] + cells)
    return tables.Grid(columns, rows)


def verdict_grid(sweep: Sweep, concluded: list[Conclusions]) -> tables.Grid | None:
    """Every pair at every size, best first within a size: the difference, its simultaneous interval (each size
    at alpha / sizes) and the verdict."""
    rows = [[tables.Cell(f"{point.examples:,}"), tables.Cell(pair.ahead), tables.Cell(pair.behind),
             tables.Cell(tables.signed(pair.difference.estimate)),
             tables.Cell(f"[{tables.signed(pair.difference.low)}, {tables.signed(pair.difference.high)}]"),
             tables.Cell(tables.verdict_text(pair), bold=pair.verdict != "undetermined")]
            for point, conclusions in zip(sweep.points, concluded) if conclusions.analysis
            for pair in conclusions.analysis.pairs]
    if not rows:
        return None
    columns = [tables.Column("training examples", "Examples"), tables.Column("ahead", "Ahead", align="l"),
               tables.Column("behind", "Behind", align="l"), tables.Column("difference", "Difference"),
               tables.Column("simultaneous 95% interval", tables.tex_escape("Simultaneous 95% interval")),
               tables.Column("verdict", "Verdict", align="l")]
    return tables.Grid(columns, rows)


def verdict_csv(sweep: Sweep, concluded: list[Conclusions]) -> str:
    header = ["train_examples", "ahead", "behind", "difference", "interval_low", "interval_high", "interval_level",
              "p_adjusted", "verdict", "margin", "needed_seeds", "needed_examples"]
    rows = [[point.examples, p.ahead, p.behind, p.difference.estimate, p.difference.low, p.difference.high,
             p.difference.level, p.p_adjusted, p.verdict, p.margin, p.needed_seeds, p.needed_examples]
            for point, conclusions in zip(sweep.points, concluded) if conclusions.analysis
            for p in conclusions.analysis.pairs]
    return tables.to_csv(header, rows)


def sweep_csv(sweep: Sweep, found: list[Curve]) -> str:
    header = ["strategy", "family"]
    for point in sweep.points:
        header += [f"{point.examples} mean", f"{point.examples} std", f"{point.examples} seeds"]
    rows = []
    for curve in found:
        by_label = {p.label: p.summary for p in curve.points}
        row: list[object] = [curve.strategy, curve.family]
        for point in sweep.points:
            summary = by_label.get(point.label)
            row += [summary.mean, summary.std, summary.n] if summary else [None, None, 0]
        rows.append(row)
    return tables.to_csv(header, rows)


def curve_csv(found: list[Curve]) -> str:
    """The data-size figure's data: every strategy's mean and interval at every measured size."""
    header = ["strategy", "family", "size", "train_examples", "seeds", "mean", "std", "interval_low", "interval_high",
              "interval_level", "top_group"]
    rows = [[curve.strategy, curve.family, point.label, point.examples, point.summary.n, point.summary.mean,
             point.summary.std, point.interval and point.interval.low, point.interval and point.interval.high,
             point.interval and point.interval.level, point.top] for curve in found for point in curve.points]
    return tables.to_csv(header, rows)


def expected_csv(tables_by_size: SizeTables) -> str:
    """Every size's expected-best curves (reports.tables.expected_csv), with the size in front."""
    parts = []
    for index, (point, table) in enumerate(tables_by_size):
        lines = tables.expected_csv(table).splitlines()
        head, body = lines[0], lines[1:]
        if index == 0:
            parts.append(f"size,train_examples,{head}")
        parts += [f"{point.label},{point.examples},{line}" for line in body]
    return "\n".join(parts) + "\n"


def sweep_notes(sweep: Sweep, concluded: list[Conclusions]) -> list[str]:
    split = SPLIT_NAMES[sweep.split]
    note = (f"Each cell: {split} {sweep.metric}, mean ± sample standard deviation over seed re-runs of the "
            f"configuration tuned at that size. Bold: the top group at each size ({judgement(sweep, concluded)}).")
    splits = {(p.results.task.sizes.get("dev"), p.results.task.sizes.get("test"), p.results.task.splits,
               p.results.settings.get("data_seed")) for p in sweep.points}
    if len(splits) == 1:
        return [note + f" The training sets are nested (each smaller one is part of every larger one); dev and "
                       f"{split} splits are the same at every size."]
    return [note + f" **The sizes do not share their dev and {split} splits** (different sizes, carve or "
                   "--data-seed): differences between sizes mix data size with the splits."]


# ----------------------------------------------------------------------------- figures
def write_sweep_figures(sweep: Sweep, found: list[Curve], tables_by_size: SizeTables, directory: Path,
                        style: Style) -> list["Plot"]:
    import matplotlib

    from reports.plots import Plot, expected_curves, save
    from reports.style import Palette

    palette = Palette(curve.info for curve in found)
    split = SPLIT_NAMES[sweep.split]
    level = f"{1 - ALPHA / len(sweep.points):.1%}"
    plots = [(Plot("data-size", f"{split.capitalize()} {sweep.metric} against training examples (log scale): "
                   f"mean over seeds, bar: its {level} interval (seeds and {split} rows; every size at a joint 95%; "
                   f"none where not analysed), strategies dodged sideways at each size; filled markers: the top group "
                   f"at that size, hollow: shown worse than its best."),
              lambda: data_size_figure(sweep, found, style, palette))]
    if any(expected_curves(table) for _, table in tables_by_size):
        plots.append((Plot("expected-best", f"Expected best dev {sweep.metric} after n trials of random search at "
                           "each training-set size (unbiased estimator, i.i.d. trials only); band: ± 1 sd of the "
                           "best of n trials."), lambda: expected_by_size(sweep, tables_by_size, style, palette)))
    with matplotlib.rc_context(style.rc()):
        for plot, draw in plots:
            save(draw(), directory, plot.name, style)
    return [plot for plot, _ in plots]


def data_size_figure(sweep: Sweep, found: list[Curve], style: Style, palette: "Palette") -> "Figure":
    """Score against training examples on a log axis, one line per strategy with its interval as an error bar,
    the strategies dodged sideways at each size so that bars do not hide each other (bands of 7 or 25 strategies
    overlap into one grey); a marker is filled where the strategy is in that size's top group."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    from reports.plots import legend_below, new_figure

    fig = new_figure(style, 1.3)
    ax = fig.add_subplot()
    step = min(0.012, 0.3 / max(len(found), 1))  # decades between neighbouring strategies at one size
    for index, curve in enumerate(found):
        shift = 10 ** ((index - (len(found) - 1) / 2) * step)
        xs = [p.examples * shift for p in curve.points]
        colour = palette.color(curve.strategy)
        ax.plot(xs, [p.summary.mean for p in curve.points], color=colour, linewidth=style.line_width * 0.8, zorder=3)
        for x, point in zip(xs, curve.points):
            below = point.summary.mean - point.interval.low if point.interval else 0.0
            above = point.interval.high - point.summary.mean if point.interval else 0.0
            ax.errorbar(x, point.summary.mean, yerr=[[below], [above]], color=colour,
                        marker=palette.marker(curve.strategy), markerfacecolor=colour if point.top else "white",
                        linestyle="none", capsize=1.5, elinewidth=style.line_width * 0.7, zorder=4)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator([p.examples for p in sweep.points]))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: format_count(x)))
    ax.set_xlabel("training examples (log scale)")
    seeds = max(point.results.seeds for point in sweep.points)
    ax.set_ylabel(f"{SPLIT_NAMES[sweep.split]} {sweep.metric}\n(mean and interval, {seeds} seeds)")
    legend_below(fig, [c.strategy for c in found if c.points], style, palette, lines=True)
    return fig


def expected_by_size(sweep: Sweep, tables_by_size: SizeTables, style: Style, palette: "Palette") -> "Figure":
    """One panel per size: each strategy's expected best dev score against random-search trials."""
    from reports.plots import draw_expected, expected_curves, legend_below, new_figure

    columns = min(style.panel_columns, len(tables_by_size))
    rows = math.ceil(len(tables_by_size) / columns)
    fig = new_figure(style, 0.75 * rows + 0.5)
    axes = fig.subplots(rows, columns, sharey=True, squeeze=False).ravel()
    shown: list[str] = []
    for index, (ax, (point, table)) in enumerate(zip(axes, tables_by_size)):
        drawn = expected_curves(table)
        draw_expected(ax, drawn, style, palette)
        ax.set_title(f"{point.examples:,} examples", loc="left", pad=2)
        if index + columns >= len(tables_by_size):  # the lowest panel of each column
            ax.set_xlabel("random-search trials n")
        if index % columns == 0:
            ax.set_ylabel(f"expected best dev {sweep.metric}")
        shown += [c.strategy for c in drawn if c.strategy not in shown]
    for ax in axes[len(tables_by_size):]:
        ax.set_visible(False)
    legend_below(fig, shown, style, palette, lines=True)
    return fig


# ----------------------------------------------------------------------------- report.md
def sweep_markdown(sweep: Sweep, grid: tables.Grid, notes: list[str], changes: list[Crossing],
                   leading: list[SizeLeaders], pairs: tables.Grid | None, plots: list["Plot"], target: Path,
                   margin: float | None) -> str:
    split = SPLIT_NAMES[sweep.split]
    data_size = [p for p in plots if p.name == "data-size"]
    expected = [p for p in plots if p.name == "expected-best"]
    pending = ("" if not sweep.pending else
               f"\n> **Partial sweep:** size {', '.join(size_label(s) for s in sweep.pending)} not measured yet "
               f"(no results.json); re-run the sweep's command to finish.\n")
    largest = recommend_at(sweep, None, margin=margin)
    every_pair = ("" if pairs is None else f"""### Every pair at every size

{tables.to_markdown(pairs)}
Also as [verdicts.csv](verdicts.csv) (full precision, with the seeds or rows that would decide each undetermined
pair) and [verdicts.tex](verdicts.tex).

""")
    return f"""# {sweep.label()}: which fine-tuning strategy at which data size?
{pending}
Regenerated from the `results.json` of every size by `python -m runners.report {sweep.directory}`. One ordinary
comparison per training-set size (same dev and {split} splits, seeds and budget rules); each size has its own
report with every figure of a single comparison.

## Sizes

{sizes_markdown(sweep, target)}
## {split.capitalize()} {sweep.metric} against training examples

{figure_markdown(data_size)}
{tables.to_markdown(grid)}
{bullets(notes)}
Also as [table.csv](table.csv) and [table.tex](table.tex); the figure's data (means, intervals and top groups) in
[data-size.csv](data-size.csv).

## Where the ranking changes

{ranking_markdown(sweep, changes, leading)}
{every_pair}## Expected best dev score against search budget, per size

{expected_markdown(sweep, expected, target)}
## Recommendation at your data size

`python -m runners.recommend {sweep.directory} --train-size N` answers for N training examples: every seed run
interpolated linearly in log(training examples) between the two measured sizes around N (each row's prediction
value where both sizes recorded predictions, else the seed scores) and judged as one comparison, with the
constraints and `--prefer` of a single comparison; outside the measured range, the nearest size, flagged as
extrapolation. It judges one size alone (one family of pairs), so its verdicts can be bolder than this report's,
which judges every size together. At the largest measured size, without constraints:

{render_recommendation(largest.recommendation)}
## What these numbers do and don't show

{bullets(honest_notes(sweep))}"""


def judgement(sweep: Sweep, concluded: list[Conclusions]) -> str:
    """How the sizes were judged together, in one phrase."""
    analysis = next((c.analysis for c in concluded if c.analysis), None)
    if analysis is None:
        return "no size could be analysed: " + (concluded[0].unavailable or "no seed runs")
    sizes = len(sweep.points)
    evidence = "" if all(c.per_row for c in concluded) else f"; {concluded[0].evidence}"
    return (f"each of the {sizes} sizes at a family-wise error of {analysis.alpha:.3g}, {ALPHA:g} over the sizes, so the "
            f"verdicts of all sizes hold together; within a size, {analysis.correction}; equivalence margin "
            f"±{analysis.margin:g}; intervals: {analysis.method}{evidence}")


def report_link(point: SweepPoint, target: Path) -> str:
    report = point.results.directory / REPORT_DIR / "report.md"
    return os.path.relpath(report.resolve(), target.resolve())


def sizes_markdown(sweep: Sweep, target: Path) -> str:
    lines = ["| size | training examples | dev | held-out | seeds | budget per strategy | report |",
             "|:--|--:|--:|--:|--:|--:|:--|"]
    for point in sweep.points:
        run = point.results
        status = "" if run.complete else " (running)"
        lines.append(f"| {point.label}{status} | {point.examples:,} | {run.task.sizes.get('dev', 0):,} | "
                     f"{run.task.sizes.get('test', 0):,} | {run.seeds} | {run.budget.per_strategy:g} {run.budget.kind} | "
                     f"[{size_dir(point.size)}]({report_link(point, target)}) |")
    return "\n".join(lines) + "\n"


def ahead_text(strategy: str, ahead: Ahead) -> str:
    difference = ahead.pair.difference
    return (f"{strategy} better at {ahead.point.examples:,} ({tables.signed(difference.estimate)}, "
            f"[{tables.signed(difference.low)}, {tables.signed(difference.high)}])")


def ranking_markdown(sweep: Sweep, changes: list[Crossing], leading: list[SizeLeaders]) -> str:
    """The top group at every size, then every pair whose order flips between neighbouring sizes."""
    split = SPLIT_NAMES[sweep.split]
    lines = [f"| training examples | best {split} {sweep.metric} | the rest of the top group (verdict against the "
             "best) |", "|--:|:--|:--|"]
    for leader in leading:
        means = leader.conclusions.means
        rest = ", ".join(f"{pair.behind} ({pair.verdict})" for pair in leader.others)
        lines.append(f"| {leader.point.examples:,} | {leader.best} {means[leader.best]:.3f} | "
                     f"{rest or 'none: it is better than every other'} |")
    text = ("The top group: the best estimate and every strategy not shown worse than it (equivalent or "
            "undetermined). " + " ".join(f"*{verdict}*: {meaning}" for verdict, meaning in VERDICT_MEANINGS.items())
            + "\n\n" + "\n".join(lines) + "\n")
    if not changes:
        return text + "\nThe order of the strategies' means is the same at every size.\n"
    rows = ["| between | order of means changes | beyond noise? | evidence |", "|:--|:--|:--|:--|"]
    for change in changes:
        evidence = [ahead_text(name, ahead) for name, ahead in ((change.first, change.first_ahead),
                                                                (change.second, change.second_ahead)) if ahead]
        missing = [name for name, ahead in ((change.first, change.first_ahead), (change.second, change.second_ahead))
                   if ahead is None]
        evidence += [f"{name} never better on its side" for name in missing]
        lead = " (the leader changes)" if change.leader_change else ""
        rows.append(f"| {change.before.examples:,} → {change.after.examples:,} | {change.first} above "
                    f"{change.second}, then below{lead} | {'**yes**' if change.beyond_noise else 'no'} | "
                    f"{'; '.join(evidence)} |")
    beyond = [c for c in changes if c.beyond_noise]
    summary = (f"{len(changes)} change{'s' if len(changes) != 1 else ''} of order between neighbouring sizes; "
               f"{len(beyond)} beyond noise (each strategy better than the other at some size on its side of the "
               "change).")
    return text + f"\n{summary}\n\n" + "\n".join(rows) + "\n"


def expected_markdown(sweep: Sweep, expected: list["Plot"], target: Path) -> str:
    anchor = "#expected-best-dev-score-against-search-budget"
    links = ", ".join(f"[{point.examples:,}]({report_link(point, target)}{anchor})" for point in sweep.points)
    if not expected:
        return (f"No size has two or more trials that were independent draws, so there are no curves; each size's "
                f"report says why ({links}).\n")
    return (f"{figure_markdown(expected)}\nEvery point of every curve is in [expected.csv](expected.csv); how the "
            f"curves are estimated and which trials count is in each size's report ({links}).\n")


def steps_note(smallest: SweepPoint) -> list[str]:
    """How many optimiser steps the smallest size trains, as its seed runs recorded them: with few, a ranking
    there says how far each strategy gets in those steps as much as what the data allow (the preset's
    min_steps repeats epochs to lift it)."""
    runs = [run for result in smallest.results.strategies.values() for run in result.seed_runs]
    if not runs:
        return []
    fewest = min(runs, key=lambda run: run.steps)  # batch sizes may differ between strategies
    steps, batch = fewest.steps, fewest.hyperparameters.get("batch_size")
    passes, searched = fewest.hyperparameters.get("epochs", 1), int(smallest.results.settings.get("epochs") or 1)
    least = int(smallest.results.settings.get("min_steps") or 0)
    repeated = (f" (every run takes at least {least} optimiser steps, --min-steps, so {passes} passes over the "
                f"{smallest.examples:,} examples)" if passes > searched else "")
    shortest = f"with {smallest.examples:,} examples the shortest run (batches of {batch}) takes {steps} optimiser steps"
    if steps >= FEW_STEPS:
        return [f"**Steps at small sizes:** {shortest}{repeated}."] if repeated else []
    return [f"**Few steps at small sizes:** {shortest}{repeated}; strategies that need many steps (small learning "
            "rates, full fine-tuning) are handicapped there, so the ranking at that size reflects the step budget as "
            "much as the data. More --min-steps (or --epochs) trains small sizes longer."]


def honest_notes(sweep: Sweep) -> list[str]:
    seeds = max(point.results.seeds for point in sweep.points)
    notes = []
    if seeds >= 2:
        notes.append(f"**Seeds and rows:** {seeds} seed runs per strategy and size, all scored on the same held-out "
                     "rows; the intervals cover another training and another held-out sample. A change of order "
                     "that is not beyond noise is no evidence that the ranking depends on the data size.")
    notes.append("**Training subsamples:** each size's training rows are one fixed draw (nested: the smaller within "
                 "the larger); seeds change initialisation and data order, not which rows are drawn, so the "
                 "intervals are about these subsets, not other draws of the same size.")
    notes.append("**Tuning:** every size tunes every strategy on the same budget; small sizes train fewer steps per "
                 "trial, so they are cheaper but noisier.")
    notes += steps_note(sweep.points[0])
    notes.append("**Between sizes:** a recommendation between measured sizes interpolates the seed runs in "
                 "log(training examples) and judges the interpolation; nothing was measured there, and the "
                 "interval does not cover the error of assuming a straight line. Outside the measured range it is "
                 "an extrapolation.")
    notes.append("**Each size's caveats** (data subset, preset, costs, reproducibility) are in its own report.")
    return notes
