"""A data-size sweep's report, ``<sweep>/report/``, regenerated from the per-size results.json files alone
(reports.sweep): the held-out score against training examples per strategy (``data-size.{png,pdf}``, its
data in ``data-size.csv``), the table strategies × sizes (``table.{md,csv,tex}``), where the ranking
changes and whether beyond seed noise, the expected best dev score against search budget at every size
(``expected-best.{png,pdf}``, ``expected.csv``), and links to each size's own report.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

from reports import tables
from core.records import SPLIT_NAMES
from reports.recommend import render as render_recommendation
from core.layout import REPORT_DIR, size_dir, size_label
from reports.render import bullets, figure_markdown, report_directory, write_tables
from reports.stats import CONFIDENCE, t_critical
from reports.style import STYLES, Style
from reports.sweep import (Ahead, Crossing, Curve, Leader, Sweep, SweepPoint, crossings, curves, leaders, load_sweep,
                           recommend_at)
from core.units import format_count

if TYPE_CHECKING:  # matplotlib: only when figures are drawn
    from matplotlib.figure import Figure

    from reports.plots import Plot
    from reports.style import Palette

SizeTables = list[tuple[SweepPoint, tables.MainTable]]  # every size's main table (its expected-best curves)


def write_sweep_report(directory: Path | str, style: str = "paper", out: Path | str | None = None) -> Path:
    """Regenerate ``SWEEP/report/`` (or ``out``) from the sweep's results.json files; returns report.md."""
    sweep = load_sweep(directory)
    target = Path(out) if out else sweep.directory / REPORT_DIR
    found = curves(sweep)
    grid = sweep_grid(sweep, found)
    notes = sweep_notes(sweep)
    changes, leading = crossings(sweep), leaders(sweep)
    tables_by_size = [(point, tables.main_table(point.results)) for point in sweep.points]
    with report_directory(target) as stage:
        write_tables(stage, "table", grid, sweep_csv(sweep, found), notes)
        (stage / "data-size.csv").write_text(curve_csv(found))
        (stage / "expected.csv").write_text(expected_csv(tables_by_size))
        plots = write_sweep_figures(sweep, found, tables_by_size, stage, STYLES[style])
        (stage / "report.md").write_text(sweep_markdown(sweep, grid, notes, changes, leading, plots, target))
    return target / "report.md"


# ----------------------------------------------------------------------------- tables and their data
def sweep_grid(sweep: Sweep, found: list[Curve]) -> tables.Grid:
    """Strategies × sizes: mean ± sd over seeds on the ranking split; bold: best at each size."""
    columns = [tables.Column("strategy", "Strategy", align="l"), tables.Column("family", "Family", align="l")]
    columns += [tables.Column(f"{point.examples:,} examples", tables.tex_escape(f"{point.examples:,}"), "max")
                for point in sweep.points]
    rows = []
    for curve in found:
        by_label = {p.label: p.summary for p in curve.points}
        rows.append([tables.Cell(curve.strategy), tables.Cell(curve.family)]
                    + [tables.mean_cell(by_label.get(point.label), True) for point in sweep.points])
    return tables.Grid(columns, rows)


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
    """The data-size figure's data: every strategy's mean and t-interval at every measured size."""
    header = ["strategy", "family", "size", "train_examples", "seeds", "mean", "std", "ci_low", "ci_high"]
    rows = [[curve.strategy, curve.family, point.label, point.examples, point.summary.n, point.summary.mean,
             point.summary.std, point.summary.ci_low, point.summary.ci_high]
            for curve in found for point in curve.points]
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


def sweep_notes(sweep: Sweep) -> list[str]:
    split = SPLIT_NAMES[sweep.split]
    note = (f"Each cell: {split} {sweep.metric}, mean ± sample standard deviation over seed re-runs of the "
            f"configuration tuned at that size. Bold: best at each size.")
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

    palette = Palette((curve.strategy, curve.family) for curve in found)
    split = SPLIT_NAMES[sweep.split]
    plots = [(Plot("data-size", f"{split.capitalize()} {sweep.metric} against training examples (log scale): "
                   f"mean over seeds, band: {int(CONFIDENCE * 100)}% t-interval of the mean."),
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
    """Score against training examples on a log axis, one line per strategy with its t-interval band."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    from reports.plots import legend_below, new_figure

    fig = new_figure(style, 1.3)
    ax = fig.add_subplot()
    for curve in found:
        xs = [p.examples for p in curve.points]
        colour = palette.color(curve.strategy)
        low = [p.summary.ci_low if p.summary.ci_low is not None else p.summary.mean for p in curve.points]
        high = [p.summary.ci_high if p.summary.ci_high is not None else p.summary.mean for p in curve.points]
        ax.fill_between(xs, low, high, color=colour, alpha=0.12, linewidth=0, zorder=1)
        ax.plot(xs, [p.summary.mean for p in curve.points], color=colour, marker=palette.marker(curve.strategy),
                zorder=3)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator([p.examples for p in sweep.points]))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: format_count(x)))
    ax.set_xlabel("training examples (log scale)")
    seeds = max(point.results.seeds for point in sweep.points)
    ax.set_ylabel(f"{SPLIT_NAMES[sweep.split]} {sweep.metric}\n(mean, {int(CONFIDENCE * 100)}% CI, {seeds} seeds)")
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
                   leading: list[Leader], plots: list["Plot"], target: Path) -> str:
    split = SPLIT_NAMES[sweep.split]
    data_size = [p for p in plots if p.name == "data-size"]
    expected = [p for p in plots if p.name == "expected-best"]
    pending = ("" if not sweep.pending else
               f"\n> **Partial sweep:** size {', '.join(size_label(s) for s in sweep.pending)} not measured yet "
               f"(no results.json); re-run the sweep's command to finish.\n")
    largest = recommend_at(sweep, None)
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
Also as [table.csv](table.csv) and [table.tex](table.tex); the figure's data (means and
{int(CONFIDENCE * 100)}% t-intervals) in [data-size.csv](data-size.csv).

## Where the ranking changes

{ranking_markdown(sweep, changes, leading)}
## Expected best dev score against search budget, per size

{expected_markdown(sweep, expected, target)}
## Recommendation at your data size

`python -m runners.recommend {sweep.directory} --train-size N` answers for N training examples: every seed's
score interpolated linearly in log(training examples) between the two measured sizes around N (outside the
measured range, the nearest size, flagged as extrapolation), with the constraints and ties of a single
comparison. At the largest measured size, without constraints:

{render_recommendation(largest.recommendation)}
## What these numbers do and don't show

{bullets(honest_notes(sweep))}"""


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
    difference = ahead.difference
    why = "" if difference.significant() else ", a gap above the seed sd"
    return (f"{strategy} ahead at {ahead.point.examples:,} ({tables.signed(difference.mean)}, "
            f"p = {difference.p:.2g}{why})")


def ranking_markdown(sweep: Sweep, changes: list[Crossing], leading: list[Leader]) -> str:
    """The leader at every size, then every pair whose order flips between neighbouring sizes."""
    split = SPLIT_NAMES[sweep.split]
    lines = [f"| training examples | best {split} {sweep.metric} | within seed noise of it |", "|--:|:--|:--|"]
    for leader in leading:
        tied = ", ".join(f"{member.strategy} (p = {difference.p:.2g})" for member, difference in leader.tied)
        lines.append(f"| {leader.point.examples:,} | {leader.best.strategy} {leader.best.score:.3f} | "
                     f"{tied or 'none: it leads beyond seed noise'} |")
    text = ("Within seed noise means what it means for ties in a recommendation: no significant paired difference "
            "(p ≥ 0.05) *and* a gap no larger than the larger seed standard deviation.\n\n" + "\n".join(lines) + "\n")
    if not changes:
        return text + "\nThe order of the strategies' means is the same at every size.\n"
    rows = ["| between | order of means changes | beyond seed noise? | evidence |", "|:--|:--|:--|:--|"]
    for change in changes:
        evidence = [ahead_text(name, ahead) for name, ahead in ((change.first, change.first_ahead),
                                                                (change.second, change.second_ahead)) if ahead]
        missing = [name for name, ahead in ((change.first, change.first_ahead), (change.second, change.second_ahead))
                   if ahead is None]
        evidence += [f"{name} never ahead beyond seed noise on its side" for name in missing]
        lead = " (the leader changes)" if change.leader_change else ""
        rows.append(f"| {change.before.examples:,} → {change.after.examples:,} | {change.first} above "
                    f"{change.second}, then below{lead} | {'**yes**' if change.beyond_noise else 'no'} | "
                    f"{'; '.join(evidence)} |")
    beyond = [c for c in changes if c.beyond_noise]
    summary = (f"{len(changes)} change{'s' if len(changes) != 1 else ''} of order between neighbouring sizes; "
               f"{len(beyond)} beyond seed noise (each strategy ahead of the other beyond seed noise at some size on "
               f"its side of the change).")
    return text + f"\n{summary}\n\n" + "\n".join(rows) + "\n"


def expected_markdown(sweep: Sweep, expected: list["Plot"], target: Path) -> str:
    anchor = "#expected-best-dev-score-against-search-budget"
    links = ", ".join(f"[{point.examples:,}]({report_link(point, target)}{anchor})" for point in sweep.points)
    if not expected:
        return (f"No size has two or more trials that were independent draws, so there are no curves; each size's "
                f"report says why ({links}).\n")
    return (f"{figure_markdown(expected)}\nEvery point of every curve is in [expected.csv](expected.csv); how the "
            f"curves are estimated and which trials count is in each size's report ({links}).\n")


FEW_STEPS = 100  # optimiser steps below which a fine-tuned encoder has hardly moved from its start


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
        width = t_critical(seeds - 1) / math.sqrt(seeds)
        notes.append(f"**Seeds:** {seeds} per strategy and size; a mean's {int(CONFIDENCE * 100)}% interval is "
                     f"±{width:.2f} standard deviations wide. A change of order that is not beyond seed noise is no "
                     "evidence that the ranking depends on the data size.")
    notes.append("**Tuning:** every size tunes every strategy on the same budget; small sizes train fewer steps per "
                 "trial, so they are cheaper but noisier.")
    notes += steps_note(sweep.points[0])
    notes.append("**Between sizes:** a recommendation between measured sizes interpolates the scores in log(training "
                 "examples); nothing was measured there. Outside the measured range it is an extrapolation.")
    notes.append("**Each size's caveats** (data subset, preset, costs, reproducibility) are in its own report.")
    return notes
