"""The report's figures, each saved as PDF (for papers) and PNG (for Markdown).

Figures are built on ``matplotlib.figure.Figure`` objects with the Agg canvas — no pyplot state, no
display needed. Strategies are told apart by colour *and* marker from :mod:`reports.style`, and named
in legends below the axes rather than by annotations next to points, which collide when points sit
close together (full and llrd usually do).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Collection

import matplotlib
import numpy as np

matplotlib.use("Agg")
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter  # noqa: E402

from peftbench.pareto import front_indices  # noqa: E402
from reports.across_tasks import AcrossTasks  # noqa: E402
from reports.confidence import Interval  # noqa: E402
from reports.expected import ExpectedCurve  # noqa: E402
from peftbench.records import ComparisonRecord, SPLIT_NAMES  # noqa: E402
from reports.pareto_sets import COST_DISPLAY, FrontPoint, front_points  # noqa: E402
from reports.race import RACE_TRACE, race_trace, race_trace_caption  # noqa: E402
from reports.style import MARKERS, Palette, Style  # noqa: E402
from reports.tables import (MIN_IMPORTANCE_TRIALS, CombinedTable, MainTable, Spread, StrategyRow,  # noqa: E402
                            importance_estimable)
from peftbench.units import format_count  # noqa: E402

FORMATS = ("pdf", "png")


@dataclass(frozen=True)
class Plot:
    name: str  # file stem: <name>.pdf and <name>.png
    caption: str


def new_figure(style: Style, height: float = 1.0) -> Figure:
    return Figure(figsize=(style.width, style.height * height), layout="constrained")


POINT_LABEL = "point-label"  # gid of a name written beside its point, moved apart from the others before saving
LABEL_OFFSET = (2, 3)  # points right of and above the point it names
LABEL_TRIES = 8  # positions above and below tried for a label before it stays where it overlaps least


def label_point(ax, name: str, point: tuple[float, float], style: Style) -> None:
    """``name`` beside ``point``; a thin leader joins them once :func:`separate_labels` has moved it away."""
    label = ax.annotate(name, point, xytext=LABEL_OFFSET, textcoords="offset points", fontsize=style.font * 0.85,
                        color="0.15", zorder=4, gid=POINT_LABEL,
                        arrowprops=dict(arrowstyle="-", color="0.6", linewidth=0.4, shrinkA=0, shrinkB=1.5))
    label.set_in_layout(False)  # the layout is fixed first; then the labels move within it


def name_box(label, renderer):
    """Where a point label's text sits on the page (an annotation's own extent includes its leader)."""
    return Text.get_window_extent(label, renderer)


def separate_labels(fig: Figure) -> None:
    """Move point labels that overlap apart: left to right, each goes to the nearest of the offsets a line up
    or down (then two, ...) where it touches no label placed before it, else where it overlaps least; a name that
    would run past the axes' right edge is written left of its point."""
    if not any(text.get_gid() == POINT_LABEL for ax in fig.axes for text in ax.texts):
        return
    if not hasattr(fig.canvas, "get_renderer"):  # a bare Figure: give it the canvas savefig's PNG uses
        FigureCanvasAgg(fig)
    fig.draw_without_rendering()  # the constrained layout settles, so positions on the page are final
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        placed = []
        right = ax.get_window_extent(renderer).x1
        for label in sorted((t for t in ax.texts if t.get_gid() == POINT_LABEL), key=lambda t: t.xy[0]):
            side = 1
            if name_box(label, renderer).x1 > right:  # past the axes' right edge: write it left of its point
                side = -1
                label.set_horizontalalignment("right")
            line = 1.2 * name_box(label, renderer).height * 72 / fig.dpi  # in points, as the offsets are
            candidates = [0] + [sign * lines for lines in range(1, LABEL_TRIES + 1) for sign in (1, -1)]

            def overlap(shift: int) -> float:
                label.xyann = (side * LABEL_OFFSET[0], LABEL_OFFSET[1] + shift * line)
                box = name_box(label, renderer)
                return sum(max(0.0, min(box.x1, other.x1) - max(box.x0, other.x0))
                           * max(0.0, min(box.y1, other.y1) - max(box.y0, other.y0)) for other in placed)

            best = next((shift for shift in candidates if overlap(shift) == 0), None)
            if best is None:
                best = min(candidates, key=overlap)
            overlap(best)
            label.arrow_patch.set_visible(best != 0)  # a leader only where the name moved off its point
            placed.append(name_box(label, renderer).padded(1))  # touching counts as overlapping


def save(fig: Figure, directory: Path, name: str, style: Style) -> None:
    separate_labels(fig)
    for fmt in FORMATS:
        metadata = {"CreationDate": None} if fmt == "pdf" else {}
        fig.savefig(directory / f"{name}.{fmt}", format=fmt, dpi=style.dpi, metadata=metadata)


MAX_NAMED = len(MARKERS)  # strategies a legend names; beyond, markers repeat within a family


def legend_below(fig: Figure, strategies: list[str], style: Style, palette: Palette, lines: bool = False,
                 extra: list[Line2D] = (), columns: int | None = None, bold: Collection[str] = ()) -> None:
    """One legend under the axes, strategies grouped by family (``columns``: fewer than the style's, for long
    labels); the names in ``bold`` (the top group) in bold. Beyond MAX_NAMED strategies it names the families
    instead, with how many of each: shades and markers no longer tell that many apart."""
    if len(set(strategies)) > MAX_NAMED:
        handles = [Line2D([], [], color=palette.family_colors[family], marker="o", linestyle="-" if lines else "none",
                          label=f"{family} ({count})") for family, count in palette.families(strategies).items()]
        bold, columns = (), max(1, (columns or style.legend_columns) // 2)  # family names are long
    else:
        handles = [Line2D([], [], color=palette.color(s), marker=palette.marker(s), linestyle="-" if lines else "none",
                          label=s) for s in palette.in_order(strategies)]
    handles += list(extra)
    if not handles:
        return
    legend = fig.legend(handles=handles, loc="outside lower center",
                        ncols=min(columns or style.legend_columns, len(handles)))
    for text in legend.get_texts():
        if text.get_text() in bold:
            text.set_fontweight("bold")


def score_label(table: MainTable) -> str:
    return f"{SPLIT_NAMES[table.split]} {table.metric}"


def interval_name(table: MainTable) -> str:
    """What the error bars are: the conclusions' interval, or the seeds' sd where nothing was analysed."""
    return "95% interval" if table.conclusions.analysis else "± sd"


def top_group(table: MainTable) -> list[str]:
    return [row.strategy for row in table.rows if row.top]


def error_bar(row: StrategyRow) -> list[list[float]]:
    """Below and above the mean: to the ends of its interval where it was analysed, else ± its seed sd."""
    return interval_bar(row.score, row.interval)


def interval_bar(score: Spread, interval: Interval | None) -> list[list[float]]:
    """Below and above ``score``'s mean: to the ends of ``interval`` (the conclusions'), else ± its seed sd."""
    if interval is not None:
        return [[score.mean - interval.low], [interval.high - score.mean]]
    return [[score.std or 0], [score.std or 0]]


def scored(table: MainTable) -> list[StrategyRow]:
    return [row for row in table.rows if row.score is not None]


BASELINE_LINE = {"color": "0.45", "linestyle": "-.", "zorder": 0}  # the majority class, in every figure


def baseline_shown(table: MainTable) -> float | None:
    """The score of always predicting the majority class (the task's constant predictor), where some strategy's
    interval reaches down to it: there a reader needs it to read the figure (a score near it means nothing was
    learned); elsewhere it would only stretch the score axis. None otherwise, or where there is no baseline."""
    analysis = table.conclusions.analysis
    majority = analysis.baseline.majority if analysis else None
    if majority is None or not any(row.score.mean - error_bar(row)[0][0] <= majority for row in scored(table)):
        return None
    return majority


def baseline_handle(table: MainTable) -> list[Line2D]:
    """The baseline line's legend entry, where it is drawn."""
    if baseline_shown(table) is None:
        return []
    constant = "majority class" if table.conclusions.analysis.baseline.majority_class is not None else "constant"
    return [Line2D([], [], color=BASELINE_LINE["color"], linestyle=BASELINE_LINE["linestyle"], label=constant)]


def score_range(metric: str) -> tuple[float, float]:
    """The values a score can take: an interval over few seeds can reach beyond them, and is drawn cut there."""
    return {"mcc": (-1.0, 1.0), "pearson": (-1.0, 1.0), "spearman": (-1.0, 1.0), "mse": (0.0, math.inf)}.get(
        metric, (0.0, 1.0))


def clip_scores(set_limits: Callable[..., object], get_limits: Callable[[], tuple[float, float]], metric: str) -> None:
    low, high = get_limits()
    floor, ceiling = score_range(metric)
    set_limits(max(low, floor - 0.02 * (high - low)), min(high, ceiling + 0.02 * (high - low)))


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points no other point beats on both cost (lower x) and score (higher y), by increasing x, each once."""
    return sorted({points[i] for i in front_indices(points, (False, True))})


@dataclass(frozen=True)
class Axis:
    """How one cost is drawn on the x axis."""

    measure: str  # StrategyRow attribute
    label: str
    scale: Callable[[float], float]
    log: bool = False
    alternative: str | None = None  # a second StrategyRow attribute for the same strategy, drawn hollow
    alternative_label: str = ""
    spread: str | None = None  # a StrategyRow attribute holding the cost's (low, high) interval, drawn as an x bar


def byte_axis(rows: list[StrategyRow], label: str) -> Axis:
    big = max(r.peak_memory_bytes for r in rows) >= 4 * 2**30
    unit, size = ("GiB", 2**30) if big else ("MiB", 2**20)
    return Axis("peak_memory_bytes", f"{label} ({unit})", lambda b: b / size)


def time_axis(rows: list[StrategyRow]) -> Axis:
    minutes = max(r.train_seconds for r in rows) >= 600
    return Axis("train_seconds", f"training time per run ({'min' if minutes else 's'})",
                lambda s: s / 60 if minutes else s)


PARAMS_AXIS = Axis("trainable_params", "trainable parameters (log scale)", float, log=True)
LATENCY_AXIS = Axis("latency_ms", "inference latency per example, batch 1 (ms;\nmedian pass, bar: fastest–slowest)",
                    float, alternative="merged_latency_ms", alternative_label="merged (hollow)",
                    spread="latency_range_ms")


def draw_tradeoff(ax, table: MainTable, style: Style, palette: Palette, axis: Axis) -> tuple[list[StrategyRow], bool]:
    """Score against one cost on ``ax``: mean and 95% interval (the conclusions'; ± sd where there is none) and the
    Pareto front of the means; strategies without the cost are left out. Where ``axis.alternative`` is set, a
    strategy that has it is drawn there too, hollow and joined to its first point, and the front runs over both.
    Returns the rows drawn and whether any alternative was."""
    rows = [row for row in scored(table) if getattr(row, axis.measure) is not None]
    points, hollow, names = [], False, {}
    for row in rows:
        x = axis.scale(getattr(row, axis.measure))
        points.append((x, row.score.mean))
        names.setdefault((x, row.score.mean), row.strategy)
        span = getattr(row, axis.spread) if axis.spread else None
        xerr = None if span is None else [[x - axis.scale(span[0])], [axis.scale(span[1]) - x]]
        ax.errorbar(x, row.score.mean, yerr=error_bar(row), xerr=xerr, color=palette.color(row.strategy),
                    marker=palette.marker(row.strategy), linestyle="none", capsize=2,
                    elinewidth=style.line_width * 0.8, zorder=3)
        other = getattr(row, axis.alternative) if axis.alternative else None
        if other is not None:
            hollow = True
            points.append((axis.scale(other), row.score.mean))
            names.setdefault((axis.scale(other), row.score.mean), row.strategy)
            ax.plot([x, axis.scale(other)], [row.score.mean] * 2, color=palette.color(row.strategy),
                    linewidth=style.line_width * 0.6, zorder=2)
            ax.plot(axis.scale(other), row.score.mean, color=palette.color(row.strategy),
                    marker=palette.marker(row.strategy), markerfacecolor="white", linestyle="none", zorder=3)
    if points:
        front = pareto_front(points)
        ax.step(*zip(*front), where="post", color="0.55", linestyle="--", linewidth=style.line_width * 0.8, zorder=1)
        if len(rows) > MAX_NAMED:  # the legend names families only: name the front's strategies at their points
            for point in front:
                label_point(ax, names[point], point, style)
    majority = baseline_shown(table)
    if majority is not None:
        ax.axhline(majority, linewidth=style.line_width * 0.8, **BASELINE_LINE)
    clip_scores(ax.set_ylim, ax.get_ylim, table.metric)
    if axis.log:
        ax.set_xscale("log")
    else:
        ax.set_xlim(left=0)  # from zero, so a 10% saving looks like one
    ax.set_xlabel(axis.label)
    return rows, hollow


def tradeoff(results: ComparisonRecord, table: MainTable, style: Style, palette: Palette, axis: Axis) -> Figure:
    """Score against one cost (draw_tradeoff), the top group bold in the legend."""
    fig = new_figure(style, 1.25)
    ax = fig.add_subplot()
    rows, hollow = draw_tradeoff(ax, table, style, palette, axis)
    shown = interval_name(table)
    ax.set_ylabel(f"{score_label(table)}\n(mean, {shown}, {results.seeds} seeds)")
    extra = [Line2D([], [], color="0.55", linestyle="--", label="Pareto front"), *baseline_handle(table)]
    if hollow:
        extra.append(Line2D([], [], color="0.3", marker="o", markerfacecolor="white", linestyle="none",
                            label=axis.alternative_label))
    legend_below(fig, [r.strategy for r in rows], style, palette, extra=extra, bold=top_group(table))
    return fig


def cost_axes(rows: list[StrategyRow]) -> list[Axis]:
    """Every cost a comparison measured, as the per-cost figures draw it."""
    axes = [PARAMS_AXIS, byte_axis(rows, "peak memory"), time_axis(rows)]
    return axes + ([LATENCY_AXIS] if any(row.latency_ms is not None for row in rows) else [])


def tradeoff_panels(results: ComparisonRecord, table: MainTable, style: Style, palette: Palette) -> Figure:
    """The paper figure: score against every cost, one panel each with a shared score axis, a dotted line at the
    reference strategy's mean (full fine-tuning) and one legend for all, two columns wide."""
    axes_drawn = cost_axes(scored(table))
    columns = 2
    panels = math.ceil(len(axes_drawn) / columns)
    fig = Figure(figsize=(style.wide_width, style.height * 0.8 * panels + 0.9), layout="constrained")
    axes = fig.subplots(panels, columns, sharey=True, squeeze=False).ravel()
    reference = next((row for row in scored(table) if row.info.reference), None)
    hollow = False
    for ax, axis in zip(axes, axes_drawn):
        _, drew = draw_tradeoff(ax, table, style, palette, axis)
        hollow = hollow or drew
        if reference is not None:
            ax.axhline(reference.score.mean, color="0.35", linestyle=":", linewidth=style.line_width * 0.8, zorder=0)
    for ax in axes[len(axes_drawn):]:
        ax.set_visible(False)
    shown = interval_name(table)
    fig.supylabel(f"{score_label(table)} (mean, {shown}, {results.seeds} seeds)", fontsize=style.font)
    extra = [Line2D([], [], color="0.55", linestyle="--", label="Pareto front")]
    if reference is not None:
        extra.append(Line2D([], [], color="0.35", linestyle=":", label=f"{reference.strategy} (reference)"))
    extra += baseline_handle(table)
    if hollow:
        extra.append(Line2D([], [], color="0.3", marker="o", markerfacecolor="white", linestyle="none",
                            label=LATENCY_AXIS.alternative_label))
    legend_below(fig, [r.strategy for r in scored(table)], style, palette, extra=extra, bold=top_group(table),
                 columns=style.legend_columns * 2)
    return fig


def seed_spread(results: ComparisonRecord, table: MainTable, style: Style, palette: Palette) -> Figure:
    """Every seed's score per strategy (a strip of points) with the mean and its 95% interval (the conclusions';
    ± sd where there is none) as a bar beneath, one row per strategy, in the table's order from the top (the top
    group's names in bold): horizontal, so fifty strategies' names stay readable at a paper column's width. No
    box: three points do not make quartiles."""
    rows = scored(table)[::-1]
    row_height = style.font / 72 * 1.9  # inches per strategy: one line of tick labels with some air
    fig = new_figure(style, max(1.0, (len(rows) * row_height + 0.6) / style.height))
    ax = fig.add_subplot()
    metric = results.task.metric
    for position, row in enumerate(rows):
        colour = palette.color(row.strategy)
        ax.errorbar(row.score.mean, position - 0.18, xerr=error_bar(row), color=colour, marker="|",
                    markersize=style.marker_size * 1.6, capsize=2, linewidth=style.line_width * 0.8, zorder=2)
        values = list(results.strategies[row.strategy].scores(table.split, metric).values())
        offsets = [0.0] if len(values) == 1 else [0.02 + 0.2 * i / (len(values) - 1) for i in range(len(values))]
        ax.plot(values, [position + o for o in offsets], color=colour, marker=palette.marker(row.strategy),
                linestyle="none", alpha=0.9, zorder=3)
    ax.set_yticks(range(len(rows)), [r.strategy for r in rows])
    for label, row in zip(ax.get_yticklabels(), rows):
        label.set_fontweight("bold" if row.top else "normal")
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlabel(f"{score_label(table)}: each seed (points),\nmean and {interval_name(table)} (bar)")
    ax.grid(axis="y", visible=False)
    majority = baseline_shown(table)
    if majority is not None:
        ax.axvline(majority, linewidth=style.line_width * 0.8, **BASELINE_LINE)
        legend_below(fig, [], style, palette, extra=baseline_handle(table))
    clip_scores(ax.set_xlim, ax.get_xlim, table.metric)
    return fig


def confusion_matrices(results: ComparisonRecord, table: MainTable, style: Style, palette: Palette) -> Figure:
    """Small multiples, one per strategy in the table's order: the confusion matrix of its chosen configuration on
    the ranking split, summed over its seed runs and shown as each true class's share of predictions (rows sum to
    1), with that share printed in each cell."""
    gold = np.asarray(results.task.labels[table.split])
    classes = results.task.num_labels
    rows = [row for row in scored(table) if all(run.predictions and table.split in run.predictions
                                                for run in results.strategies[row.strategy].seed_runs)]
    many = len(rows) > 12  # then both columns of a page, so that each cell's share stays legible
    columns = (style.panel_columns + 1) * (2 if many else 1)
    width = style.wide_width if many else style.width
    panels = math.ceil(len(rows) / columns)
    size = width / columns
    fig = Figure(figsize=(width, panels * size * 1.15 + 0.4), layout="constrained")
    axes = fig.subplots(panels, columns, squeeze=False).ravel()
    for ax, row in zip(axes, rows):
        counts = np.zeros((classes, classes))
        for run in results.strategies[row.strategy].seed_runs:
            np.add.at(counts, (gold, np.asarray(run.predictions[table.split])), 1)
        shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        ax.imshow(shares, vmin=0, vmax=1, cmap="Greys")
        for (true, predicted), share in np.ndenumerate(shares):
            ax.text(predicted, true, f"{share:.2f}", ha="center", va="center", fontsize=style.font - 1,
                    color="white" if share > 0.5 else "black")
        ax.set_title(row.strategy, color=palette.color(row.strategy), fontweight="bold" if row.top else "normal",
                     fontsize=style.font, pad=2)
        ax.set_xticks(range(classes))
        ax.set_yticks(range(classes))
        ax.tick_params(length=0, labelsize=style.font - 1.5)
        ax.grid(False)
    for ax in axes[len(rows):]:
        ax.set_visible(False)
    fig.supxlabel("predicted class", fontsize=style.font)
    fig.supylabel("true class", fontsize=style.font)
    return fig


def learning_curves(results: ComparisonRecord, style: Style, palette: Palette) -> Figure:
    """Dev score against training samples seen, for the trial each strategy's study picked as best."""
    fig = new_figure(style, 1.25)
    ax = fig.add_subplot()
    shown = []
    for name, strategy in results.strategies.items():
        best = strategy.best_record()
        if best is None or not best.intermediate:
            continue
        xs, ys = zip(*best.intermediate)
        ax.plot(xs, ys, color=palette.color(name), marker=palette.marker(name), markersize=style.marker_size * 0.8)
        shown.append(name)
    ax.set_xlabel("training samples seen")
    ax.set_ylabel(f"dev {results.task.metric}\n(best trial of each strategy)")
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: format_count(x)))
    legend_below(fig, shown, style, palette, lines=True)
    return fig


def optimisation_history(results: ComparisonRecord, style: Style, palette: Palette) -> Figure:
    """Best dev score found so far against trial number (pruned and failed trials count as trials)."""
    fig = new_figure(style, 1.25)
    ax = fig.add_subplot()
    shown = []
    for name, strategy in results.strategies.items():
        numbers, best, values = [], [], []
        so_far = -math.inf
        for trial in sorted(strategy.trials, key=lambda t: t.number):
            if trial.state == "COMPLETE" and trial.value is not None:
                so_far = max(so_far, trial.value)
                values.append((trial.number, trial.value))
            if so_far > -math.inf:
                numbers.append(trial.number)
                best.append(so_far)
        if not numbers:
            continue
        ax.step(numbers, best, where="post", color=palette.color(name))
        ax.plot(*zip(*values), color=palette.color(name), marker=palette.marker(name), linestyle="none", alpha=0.35,
                markersize=style.marker_size * 0.8)
        shown.append(name)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial number")
    ax.set_ylabel(f"best dev {results.task.metric} so far\n(faint: each complete trial)")
    legend_below(fig, shown, style, palette, lines=True)
    return fig


def expected_curves(table: MainTable) -> list[ExpectedCurve]:
    """The curves there is something to draw for (two or more i.i.d. trials), in the table's order."""
    return [row.expected for row in table.rows if row.expected is not None and row.expected.available]


def draw_expected(ax, curves: list[ExpectedCurve], style: Style, palette: Palette) -> None:
    """Each curve's expected best against n, with a band of ± 1 sd of the best of n (also reports.sweep_render's
    panels, one per data size)."""
    for curve in curves:
        n = [point.n for point in curve.unbiased]
        mean = [point.mean for point in curve.unbiased]
        low = [point.mean - point.sd for point in curve.unbiased]
        high = [point.mean + point.sd for point in curve.unbiased]
        colour = palette.color(curve.strategy)
        ax.fill_between(n, low, high, color=colour, alpha=0.12, linewidth=0, zorder=1)
        ax.plot(n, mean, color=colour, marker=palette.marker(curve.strategy), markersize=style.marker_size * 0.8,
                zorder=3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def expected_best(results: ComparisonRecord, table: MainTable, style: Style, palette: Palette) -> Figure:
    """Expected best dev score after n random-search trials (unbiased estimator), ± 1 sd of that best."""
    curves = expected_curves(table)
    fig = new_figure(style, 1.25)
    ax = fig.add_subplot()
    draw_expected(ax, curves, style, palette)
    ax.set_xlabel("random-search trials n")
    ax.set_ylabel(f"expected best dev {results.task.metric}\n(± 1 sd of the best of n)")
    legend_below(fig, [c.strategy for c in curves], style, palette, lines=True)
    return fig


def importance(results: ComparisonRecord, style: Style, palette: Palette) -> Figure:
    """Small multiples: each strategy's hyperparameter importances (PED-ANOVA, summing to 1); each row of
    panels is as tall as its longest list, so bars have the same thickness everywhere."""
    names = importance_estimable(results)
    columns = style.panel_columns
    found = [results.strategies[name].param_importance or {} for name in names]
    rows = [max(max(len(f) for f in found[i:i + columns]), 2) for i in range(0, len(names), columns)]
    bar = style.font / 72 * 1.6  # inches per bar: one line of tick labels with some air
    title = style.font / 72 * 2.2
    fig = new_figure(style, (sum(rows) * bar + len(rows) * title + 2 * title) / style.height)
    axes = fig.subplots(len(rows), columns, sharex=True, squeeze=False, gridspec_kw={"height_ratios": rows}).ravel()
    for index, (ax, name, importances) in enumerate(zip(axes, names, found)):
        ax.tick_params(labelbottom=index + columns >= len(names))  # the lowest panel of each column has the scale
        ax.set_title(name, color=palette.color(name), fontweight="bold", loc="left", pad=2)
        ax.tick_params(axis="y", length=0)
        ax.grid(axis="y", visible=False)
        ax.set_xlim(0, 1)
        ax.set_xticks([0, 0.5, 1])
        ordered = sorted(importances.items(), key=lambda item: item[1])
        ax.barh([k for k, _ in ordered], [v for _, v in ordered], color=palette.color(name), height=0.7)
        ax.set_ylim(len(ordered) - 0.4 - rows[index // columns], len(ordered) - 0.4)  # same bar thickness per row
    for ax in axes[len(names):]:
        ax.set_visible(False)
    fig.supxlabel("importance (fraction of the total)", fontsize=style.font)
    return fig


def combined(tables: CombinedTable, style: Style, palette: Palette) -> Figure:
    """Each comparison's score per strategy, the mean with its 95% interval (each comparison's conclusions; ± sd
    over seeds where it has none), strategies side by side; a marker is filled where the strategy is in that
    comparison's top group, hollow where it is shown worse than its best."""
    fig = new_figure(style, 1.3)
    ax = fig.add_subplot()
    count, some_sd = len(tables.strategies), False
    for index, name in enumerate(tables.strategies):
        offset = -0.36 + 0.72 * index / max(count - 1, 1)
        for position, (summary, top, interval) in enumerate(zip(tables.cells[name], tables.top_groups,
                                                                 tables.intervals[name])):
            if summary is not None:
                some_sd = some_sd or interval is None
                ax.errorbar(position + offset, summary.mean, yerr=interval_bar(summary, interval),
                            color=palette.color(name), marker=palette.marker(name), markerfacecolor=palette.color(name) if name in top else "white",
                            linestyle="none", capsize=1.5, elinewidth=0.8)
    same = len(set(zip(tables.splits, tables.metrics))) == 1  # then said once, on the score axis
    ax.set_xticks(range(len(tables.labels)), tables.labels if same else
                  [f"{label}\n({SPLIT_NAMES[split]} {metric})"
                   for label, split, metric in zip(tables.labels, tables.splits, tables.metrics)])
    ax.set_xlim(-0.5, len(tables.labels) - 0.5)
    ax.grid(axis="x", visible=False)
    bars = "95% interval or ± sd" if some_sd else "95% interval"
    score = f"{SPLIT_NAMES[tables.splits[0]]} {tables.metrics[0]}" if same else "score"
    ax.set_ylabel(f"{score}\n(mean, {bars})")
    legend_below(fig, tables.strategies, style, palette)
    return fig


def write_figures(results: ComparisonRecord, table: MainTable, directory: Path, style: Style) -> list[Plot]:
    """Every single-comparison figure, as PDF and PNG, in ``directory``."""
    rows = scored(table)
    split = SPLIT_NAMES[table.split]
    top = " Bold in the legend: the top group." if table.conclusions.top_group else ""
    floor, majority = "", baseline_shown(table)
    if majority is not None:  # said in every figure that draws the line
        floor = (f" Dash-dotted line: the {baseline_handle(table)[0].get_label()} baseline ({majority:.3g}), drawn "
                 "because an interval reaches it.")
    top = floor + top
    if len(rows) > MAX_NAMED:
        top += (f" With {len(rows)} strategies the legend names the families (hue; shade and marker tell a family's "
                "members apart) and the Pareto front's strategies are named at their points.")
    lowest, highest = score_range(table.metric)
    if any(row.interval is not None and (row.interval.low < lowest or row.interval.high > highest) for row in rows):
        top += " Intervals that reach beyond the score's possible range are cut at it."
    bars = "95% interval (seeds and rows)" if table.conclusions.analysis else "± sd over seeds"
    palette = Palette(row.info for row in table.rows)
    plots: list[tuple[Plot, Callable[[], Figure]]] = pareto_plots(results, style, palette)
    if rows:
        plots += [
            (Plot("tradeoff-params", f"{split.capitalize()} {results.task.metric} (mean, {bars}) against trainable "
                  "parameters (log scale); the dashed line is the Pareto front (no strategy is both smaller and "
                  f"better).{top}"),
             lambda: tradeoff(results, table, style, palette, PARAMS_AXIS)),
            (Plot("tradeoff-memory", f"{split.capitalize()} {results.task.metric} (mean, {bars}) against peak memory "
                  f"per run.{top}"),
             lambda: tradeoff(results, table, style, palette, byte_axis(rows, "peak memory"))),
            (Plot("tradeoff-time", f"{split.capitalize()} {results.task.metric} (mean, {bars}) against training time "
                  f"per run.{top}"),
             lambda: tradeoff(results, table, style, palette, time_axis(rows))),
            (Plot("seeds", f"{split.capitalize()} {results.task.metric} of every seed run (points) and the mean with "
                  f"its {bars} (bar beneath), best first; names in bold: the top group.{floor}"),
             lambda: seed_spread(results, table, style, palette)),
        ]
    if any(row.latency_ms is not None for row in rows):
        ranged = next((row.inference for row in rows if row.latency_range_ms is not None), None)
        latency_bars = (f" Horizontal bars: the fastest and slowest of {ranged.passes} timed passes, an interval that "
                        f"holds the median pass with probability {ranged.range_coverage:.0%}." if ranged else "")
        plots.append(
            (Plot("tradeoff-latency", f"{split.capitalize()} {results.task.metric} (mean, {bars}) against inference "
                  "latency per example at batch 1, as trained (filled) and with the adapter merged into the base "
                  "weights (hollow, where merging kept the predictions); the dashed line is the Pareto front over "
                  f"both.{latency_bars}{top}"),
             lambda: tradeoff(results, table, style, palette, LATENCY_AXIS)))
    if rows:
        plots.append(
            (Plot("tradeoff-panels", f"{split.capitalize()} {results.task.metric} (mean, {bars}) against each cost, "
                  "for a paper's full width: the dashed line in each panel is the Pareto front, the dotted line the "
                  f"reference strategy's mean (full fine-tuning).{top}"),
             lambda: tradeoff_panels(results, table, style, palette)))
    if results.task.labels and results.task.num_labels > 1 and table.split in results.task.labels and any(
            run.predictions for row in rows for run in results.strategies[row.strategy].seed_runs):
        plots.append(
            (Plot("confusion", f"Confusion matrix of each strategy's chosen configuration on {split}, summed over its "
                  "seed runs: each true class's share of predictions (rows sum to 1); titles in bold: the top "
                  "group."), lambda: confusion_matrices(results, table, style, palette)))
    if expected_curves(table):
        plots.append(
            (Plot("expected-best", f"Expected best dev {results.task.metric} after n trials of random search (unbiased "
                  "estimator of Tang et al. 2020, from each strategy's i.i.d. trials only); band: ± 1 sd of the best of "
                  "n trials."), lambda: expected_best(results, table, style, palette)))
    if results.race is not None:
        plots.append((Plot(RACE_TRACE, race_trace_caption(results)),
                      lambda: race_trace(results, style, palette)))
    plots += [
        (Plot("learning-curves", f"Dev {results.task.metric} during training of each strategy's best trial."),
         lambda: learning_curves(results, style, palette)),
        (Plot("history", "Optimisation history: best dev score so far against trial number, per strategy."),
         lambda: optimisation_history(results, style, palette)),
    ]
    if importance_estimable(results):
        plots.append((Plot("importance", f"Hyperparameter importance per strategy (Optuna PED-ANOVA over the tuning "
                           f"trials), for the strategies with at least {MIN_IMPORTANCE_TRIALS} complete trials."),
                      lambda: importance(results, style, palette)))
    with matplotlib.rc_context(style.rc()):
        for plot, draw in plots:
            save(draw(), directory, plot.name, style)
    return [plot for plot, _ in plots]


def pareto_sets(results: ComparisonRecord, points: list[FrontPoint], cost: str, style: Style, palette: Palette) -> Figure:
    """Dev score against one cost objective: every tuning trial (faint), each strategy's Pareto set (markers,
    joined as the staircase of those no other of its own beats in this plane), the dev mean ± sd of each
    re-run configuration's seed runs (bars), and the front across strategies (grey band)."""
    display, metric = COST_DISPLAY[cost], results.task.metric
    fig = new_figure(style, 1.25)
    ax = fig.add_subplot()
    shown = palette.in_order({point.strategy for point in points})
    for name in shown:
        colour, marker = palette.color(name), palette.marker(name)
        tried = [(t.values[cost], t.values[metric]) for t in results.strategies[name].trials if t.values]
        ax.plot(*zip(*tried), color=colour, marker=marker, linestyle="none", alpha=0.25,
                markersize=style.marker_size * 0.7, zorder=2)
        own = [point for point in points if point.strategy == name]
        ax.step(*zip(*pareto_front([(p.config.values[cost], p.config.values[metric]) for p in own])), where="post",
                color=colour, zorder=3)
        ax.plot([p.config.values[cost] for p in own], [p.config.values[metric] for p in own], color=colour,
                marker=marker, linestyle="none", zorder=4)
        for point in own:
            if point.dev is not None:
                ax.errorbar(point.config.values[cost], point.dev.mean, yerr=point.dev.std or 0, color=colour,
                            marker="_", markersize=style.marker_size * 2.2, markeredgewidth=style.line_width * 1.2,
                            linestyle="none", capsize=0, elinewidth=style.line_width * 0.8, zorder=5)
    overall = pareto_front([(p.config.values[cost], p.config.values[metric]) for p in points])
    ax.step(*zip(*overall), where="post", color="0.5", alpha=0.3, linewidth=style.line_width * 5,
            solid_capstyle="round", zorder=1)
    if display.log:
        ax.set_xscale("log")
        low, high = ax.get_xlim()
        if high < 100 * low:  # under two decades a tick per decade leaves one or none: 1, 2, 5 per decade
            ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: display.render(x)))
    ax.set_xlabel(display.label + (" (log scale)" if display.log else ""))
    ax.set_ylabel(f"dev {metric}\n(each tuning trial's run)")
    extra = [Line2D([], [], color="0.5", alpha=0.3, linewidth=style.line_width * 5, label="front across strategies"),
             Line2D([], [], color="0.3", marker="_", markersize=style.marker_size * 2.2, linestyle="none",
                    markeredgewidth=style.line_width * 1.2, label="seed runs (dev mean ± sd)"),
             Line2D([], [], color="0.3", marker="o", alpha=0.25, linestyle="none", label="other trials")]
    legend_below(fig, shown, style, palette, lines=True, extra=extra, columns=2)
    return fig


def pareto_plots(results: ComparisonRecord, style: Style, palette: Palette) -> list[tuple[Plot, Callable[[], Figure]]]:
    """A multi-objective comparison's figures: dev score against each cost objective (none otherwise)."""
    points = front_points(results)
    if not points:
        return []
    metric = results.task.metric
    return [(Plot(COST_DISPLAY[cost].figure,
                  f"Dev {metric} against {COST_DISPLAY[cost].label}: each strategy's Pareto set of configurations "
                  f"(markers joined as a staircase; faint: its other tuning trials), the dev mean ± sd of the "
                  f"configurations re-run with seeds (bars), and the front across all strategies (grey band)."),
             lambda cost=cost: pareto_sets(results, points, cost, style, palette)) for cost in results.costs]


def critical_difference(test: AcrossTasks, style: Style, palette: Palette) -> Figure:
    """Average rank over the comparisons (1 best) of every strategy, one row each, best at the top, with its rank in
    each comparison (small points); the Nemenyi critical difference as a bar above; strategies whose average
    ranks lie within it of each other joined by a bar at the right (Demšar's critical-difference diagram, drawn
    as rows so that long names stay readable at a column's width)."""
    order = test.strategies[::-1]
    row_height = style.font / 72 * 1.9
    fig = new_figure(style, max(1.0, (len(order) * row_height + 0.9) / style.height))
    ax = fig.add_subplot()
    k = len(order)
    for position, name in enumerate(order):
        ax.plot(test.ranks[name], [position] * len(test.ranks[name]), color=palette.color(name),
                marker=palette.marker(name), linestyle="none", alpha=0.35, markersize=style.marker_size * 0.7)
        ax.plot(test.average(name), position, color=palette.color(name), marker=palette.marker(name),
                linestyle="none", markersize=style.marker_size * 1.3, zorder=3)
    for index, clique in enumerate(test.cliques()):
        rows = [order.index(name) for name in clique]
        ax.plot([k + 0.35 + 0.2 * index] * 2, [min(rows), max(rows)], color="0.25", linewidth=style.line_width * 2.5,
                solid_capstyle="round")
    ax.plot([1, 1 + test.critical_difference], [k - 0.2] * 2, color="black", linewidth=style.line_width * 1.5)
    ax.text(1, k - 0.05, f"CD = {test.critical_difference:.2f}", va="bottom", fontsize=style.font - 0.5)
    ax.set_yticks(range(k), order)
    ax.set_ylim(-0.6, k + 0.5)
    ax.set_xlim(0.7, k + 0.6 + 0.2 * len(test.cliques()))
    ax.set_xlabel(f"rank over {test.comparisons} comparisons (1 best)")
    ax.grid(axis="y", visible=False)
    return fig


def write_combined_figures(table: CombinedTable, test: AcrossTasks | None, directory: Path, style: Style) -> list[Plot]:
    palette = Palette(table.infos.values())
    plots = [(Plot("combined", "Score of every strategy on each comparison (mean and its 95% interval over seeds and "
                   "rows, from that comparison's conclusions; ± sd over seeds where it has none); filled: in that "
                   "comparison's top group, hollow: shown worse than its best."),
              lambda: combined(table, style, palette))]
    if test is not None:
        plots.append((Plot("critical-difference", f"Average rank over the {test.comparisons} comparisons (1 best; "
                           "small points: each comparison's rank); bar above: the Nemenyi critical difference at "
                           f"{test.alpha:g}; bars at the right join strategies whose average ranks are within it "
                           "(Demšar 2006)."), lambda: critical_difference(test, style, palette)))
    with matplotlib.rc_context(style.rc()):
        for plot, draw in plots:
            save(draw(), directory, plot.name, style)
    return [plot for plot, _ in plots]
