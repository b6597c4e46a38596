"""The main table (one row per strategy), the verdicts of every pair, and the combined table (strategies ×
tasks), each rendered as Markdown, CSV and LaTeX (booktabs) from one :class:`Grid`, so the three never disagree.

Markdown and LaTeX show rounded numbers, the top group in bold (reports.conclusions: the strategies not shown
worse than the best) and the cheapest value of each cost column in bold; the CSV holds the full-precision
numbers for anyone who wants to redo the arithmetic. Nothing here decides anything statistical: every interval,
verdict and flag comes from reports.conclusions, which asks reports.confidence.
"""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass
from typing import Callable

from peftbench.records import ComparisonRecord, InferenceCost, SPLIT_NAMES, StrategyRecord
from peftbench.strategy import FAMILIES, StrategyInfo
from reports.conclusions import VERDICT_MEANINGS, Conclusions, conclude
from reports.confidence import ALPHA, MAX_SEEDS, Excess, Interval, PairVerdict
from reports.expected import WITHIN, ExpectedCurve, expected_curve
from peftbench.units import format_bytes, format_count, format_milliseconds, format_percent, significant

# Complete tuning trials a strategy needs before its hyperparameter importances mean anything: PED-ANOVA compares
# the best 10% of the trials with all of them, so below ten the "best 10%" is a single trial.
MIN_IMPORTANCE_TRIALS = 10


def importance_estimable(results: ComparisonRecord) -> list[str]:
    """The strategies with importances measured over at least MIN_IMPORTANCE_TRIALS complete trials."""
    return [name for name, strategy in results.strategies.items() if strategy.param_importance and
            sum(trial.state == "COMPLETE" for trial in strategy.trials) >= MIN_IMPORTANCE_TRIALS]

METRIC_DECIMALS = 3
NONE = "—"


# the metrics a reader sees beside the primary one (peftbench.metrics names), for classification tasks
BESIDE = {"accuracy": "accuracy", "recall": "macro recall", "macro_f1": "macro F1"}
SELECTION_MARK, SPLIT_MARK = "†", "‡"


@dataclass(frozen=True)
class Spread:
    """Mean and sample standard deviation over seed runs: a description of them, not a conclusion."""

    n: int
    mean: float
    std: float | None  # None with one value


def spread(values: list[float]) -> Spread:
    return Spread(len(values), statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None)


@dataclass(frozen=True)
class StrategyRow:
    """One strategy's numbers, aggregated over its seed runs, and what the conclusions say of it."""

    strategy: str
    info: StrategyInfo
    status: str
    seeds: int
    score: Spread | None  # on the ranking split (held-out when every seed run has it)
    interval: Interval | None  # the engine's interval of the score; None where it was not analysed
    top: bool  # in the top group
    learned: bool | None  # beat the baseline beyond noise; None where not analysed
    defaults: bool  # the chosen configuration is the strategy's defaults
    dev: Spread | None
    beside: dict[str, float]  # other metrics a reader knows (BESIDE, and MCC where it is the task's), seed means
    trainable_params: int | None
    total_params: int | None
    peak_memory_bytes: int | None  # highest over seeds: what a machine must provide
    train_seconds: float | None  # mean over seeds
    samples_per_second: float | None  # mean over seeds
    artifact_bytes: int | None
    expected: ExpectedCurve | None = None  # expected best dev score against search budget (reports.expected)
    selected_dev: float | None = None  # dev score of the trial that chose this configuration (the study's best)
    selection: Excess | None = None  # selected_dev − the seed re-runs' dev mean, and whether beyond noise
    split_gap: Excess | None = None  # the seed re-runs' dev mean − held-out mean, and whether beyond noise
    inference: InferenceCost | None = None  # what its trained model costs to run (one seed run), when measured

    @property
    def family(self) -> str:
        return self.info.family

    @property
    def latency_ms(self) -> float | None:
        """Inference latency per example at batch 1, as trained."""
        return self.inference.as_trained.latency_ms if self.inference else None

    @property
    def latency_range_ms(self) -> tuple[float, float] | None:
        """The fastest and slowest timed pass as trained: an interval for the median pass (peftbench.inference)."""
        return self.inference.as_trained.latency_range_ms if self.inference else None

    @property
    def merged_latency_ms(self) -> float | None:
        """Latency at batch 1 with the adapter merged, where merging kept the trained predictions."""
        merged = self.inference.merged if self.inference and self.inference.predictions_equal else None
        return merged.latency_ms if merged else None

    @property
    def throughput(self) -> float | None:
        """Inference examples per second at the measurement's batch size, as trained."""
        return self.inference.as_trained.throughput if self.inference else None

    @property
    def inference_memory_bytes(self) -> float | None:
        return self.inference.as_trained.memory_bytes if self.inference else None

    @property
    def deployed_latency_ms(self) -> float | None:
        """The lowest latency of a form that gives the trained predictions (merged where merging keeps them)."""
        return min(form.latency_ms for form in self.inference.forms()) if self.inference else None

    @property
    def deployed_memory_bytes(self) -> float | None:
        return min(form.memory_bytes for form in self.inference.forms()) if self.inference else None

    @property
    def trainable_percent(self) -> float | None:
        if self.trainable_params is None or not self.total_params:
            return None
        return 100.0 * self.trainable_params / self.total_params


@dataclass(frozen=True)
class MainTable:
    split: str
    metric: str
    rows: list[StrategyRow]  # in the conclusions' order: best first
    conclusions: Conclusions
    beside: list[str]  # the metrics shown beside the primary one
    reference: str | None  # the strategy that declares itself the reference (full fine-tuning), if it has seed runs

    @property
    def inference(self) -> list[InferenceCost]:
        """The inference measurements of its strategies (none in a results.json from before peftbench made them)."""
        return [row.inference for row in self.rows if row.inference is not None]


def beside_metrics(results: ComparisonRecord) -> list[str]:
    """The metrics a reader knows, shown beside the task's own: accuracy, macro recall and macro F1, and MCC
    where it is the task's metric (CoLA, as GLUE scores it); none for regression."""
    if results.task.num_labels < 2:
        return []
    return [name for name in [*BESIDE, "mcc"] if name != results.task.metric and (name in BESIDE or
                                                                                 results.task.metric == "mcc")]


def defaults_chosen(results: ComparisonRecord, strategy: StrategyRecord) -> bool:
    """The strategy's chosen configuration is its defaults: the first trial of every study runs them."""
    return results.settings.get("first_trial") == "defaults" and strategy.best is not None and strategy.best.trial == 0


def strategy_row(results: ComparisonRecord, strategy: StrategyRecord, conclusions: Conclusions,
                 beside: list[str]) -> StrategyRow:
    runs = strategy.seed_runs
    split, metric, name = conclusions.split, results.task.metric, strategy.name
    curve = expected_curve(results, strategy)
    selected = strategy.best.value if strategy.best is not None else None  # the chosen trial's dev score
    defaults = defaults_chosen(results, strategy)
    scores = list(strategy.scores(split, metric).values())
    analysis = conclusions.analysis
    if not runs:
        return StrategyRow(name, strategy.info, strategy.status, 0, None, None, False, None, defaults, None, {}, None,
                           None, None, None, None, None, curve, selected)
    means = {other: [run.metrics.get(split, {}).get(other) for run in runs] for other in beside}
    return StrategyRow(
        strategy=name, info=strategy.info, status=strategy.status, seeds=len(runs),
        score=spread(scores) if scores else None,
        interval=analysis.scores.get(name) if analysis else None, top=name in conclusions.top_group,
        learned=conclusions.learned(name), defaults=defaults, dev=spread(list(strategy.scores("dev", metric).values())),
        beside={other: statistics.fmean(values) for other, values in means.items() if None not in values},
        trainable_params=runs[0].trainable_params, total_params=runs[0].total_params,
        peak_memory_bytes=max(r.peak_memory_bytes for r in runs),
        train_seconds=statistics.fmean(r.train_seconds for r in runs),
        samples_per_second=statistics.fmean(r.train_samples_per_second for r in runs),
        artifact_bytes=max(r.artifact_bytes for r in runs), expected=curve, selected_dev=selected,
        selection=conclusions.selection.get(name), split_gap=conclusions.split_gap.get(name),
        inference=strategy.inference,
    )


def main_table(results: ComparisonRecord, margin: float | None = None, alpha: float = ALPHA) -> MainTable:
    """Every strategy's row, in the order of its conclusions (reports.conclusions: best first), at the
    equivalence ``margin`` (default: the engine's for the metric) and family-wise error ``alpha``."""
    conclusions = conclude(results, margin, alpha)
    beside = beside_metrics(results)
    rows = [strategy_row(results, results.strategies[name], conclusions, beside) for name in conclusions.order]
    reference = next((s.name for s in results.strategies.values() if s.info.reference and s.seed_runs), None)
    return MainTable(conclusions.split, results.task.metric, rows, conclusions, beside, reference)


# ----------------------------------------------------------------------------- one grid, three renderings
@dataclass(frozen=True)
class Cell:
    text: str
    value: float | None = None  # what "best in column" compares; None never wins
    bold: bool = False  # bold whatever the column's best (the top group)

    def emphasised(self, best: float | None) -> bool:
        return self.bold or (self.value is not None and self.value == best)


@dataclass(frozen=True)
class Column:
    header: str
    tex: str  # LaTeX header (already escaped)
    best: str | None = None  # "max" | "min" | None
    align: str = "r"


@dataclass(frozen=True)
class Grid:
    columns: list[Column]
    rows: list[list[Cell]]

    def best(self) -> list[float | None]:
        """The best value of each column that has one."""
        found: list[float | None] = []
        for index, column in enumerate(self.columns):
            values = [row[index].value for row in self.rows if row[index].value is not None]
            found.append((max if column.best == "max" else min)(values) if column.best and values else None)
        return found


def md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*")


def to_markdown(grid: Grid) -> str:
    best = grid.best()
    lines = ["| " + " | ".join(md_escape(c.header) for c in grid.columns) + " |",
             "|" + "|".join(":--" if c.align == "l" else "--:" for c in grid.columns) + "|"]
    for row in grid.rows:
        cells = [f"**{md_escape(cell.text)}**" if cell.emphasised(b) else md_escape(cell.text)
                 for cell, b in zip(row, best)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


TEX_REPLACEMENTS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "$": r"\$",
                    "{": r"\{", "}": r"\}", "±": r"$\pm$", "—": "---", "–": "--", "−": "$-$", "Δ": r"$\Delta$",
                    "×": r"$\times$", "≥": r"$\geq$", "≤": r"$\leq$", "*": r"$^{*}$", "~": r"\textasciitilde{}",
                    "†": r"$^{\dagger}$", "‡": r"$^{\ddagger}$", "≠": r"$\neq$"}


def tex_escape(text: str) -> str:
    return "".join(TEX_REPLACEMENTS.get(ch, ch) for ch in text)


def to_latex(grid: Grid, comments: list[str]) -> str:
    """A booktabs ``tabular`` to ``\\input`` inside a table float (needs ``\\usepackage{booktabs}``)."""
    best = grid.best()
    lines = [f"% {line}" for line in comments]
    lines += ["\\begin{tabular}{" + "".join(c.align for c in grid.columns) + "}", r"\toprule",
              " & ".join(c.tex for c in grid.columns) + r" \\", r"\midrule"]
    for row in grid.rows:
        cells = [f"\\textbf{{{tex_escape(cell.text)}}}" if cell.emphasised(b) else tex_escape(cell.text)
                 for cell, b in zip(row, best)]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def to_csv(header: list[str], rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return out.getvalue()


# ----------------------------------------------------------------------------- the main table
def fixed(value: float) -> str:
    """A score with the table's decimals and a real minus sign."""
    return f"{value:.{METRIC_DECIMALS}f}".replace("-", "−")


def signed(value: float) -> str:
    return ("+" if value >= 0 else "") + fixed(value)


def mean_cell(summary: Spread | None, with_std: bool, bold: bool = False) -> Cell:
    if summary is None:
        return Cell(NONE)
    text = fixed(summary.mean)
    if with_std:
        text += f" ± {fixed(summary.std)}" if summary.std is not None else " (1 seed)"
    return Cell(text, round(summary.mean, METRIC_DECIMALS), bold)


def interval_cell(row: StrategyRow) -> Cell:
    if row.interval is not None:
        return Cell(f"[{fixed(row.interval.low)}, {fixed(row.interval.high)}]", bold=row.top)
    return Cell("n/a (1 seed)" if row.seeds == 1 else "n/a")


def optional(value: float | None, render: Callable[[float], str]) -> Cell:
    return Cell(NONE) if value is None else Cell(render(value), value)


def budget_cell(curve: ExpectedCurve | None) -> Cell:
    """``k of N``: random-search trials to come within 0.5 pt of the expected best of all N i.i.d. trials."""
    if curve is None:
        return Cell(NONE)
    if not curve.available:
        return Cell(curve.reason)
    return Cell(f"{curve.trials_to_within} of {len(curve.unbiased)}")


def excess_cell(found: Excess | None, mark: str) -> Cell:
    if found is None:
        return Cell(NONE)
    return Cell(signed(found.estimate) + (f" {mark}" if found.beyond_noise else ""))


def flags(row: StrategyRow) -> list[str]:
    """What a reader must know about a strategy before reading its score."""
    return [flag for flag, raised in (("defaults", row.defaults), ("did not learn", row.learned is False)) if raised]


def merged_latency_cell(row: StrategyRow) -> Cell:
    """The merged model's latency; ≠ where merging changed the predictions (it never wins the column)."""
    if row.inference is None:
        return Cell(NONE)
    if row.inference.merged is None:
        return Cell("n/a")
    if row.merged_latency_ms is None:
        return Cell(f"{format_milliseconds(row.inference.merged.latency_ms)} ≠")
    return Cell(format_milliseconds(row.merged_latency_ms), row.merged_latency_ms)


def inference_columns(table: MainTable) -> list[Column]:
    batch = table.inference[0].batch_size
    return [Column("latency b1", "Latency b1", "min"), Column("merged latency b1", "Merged b1", "min"),
            Column(f"throughput b{batch}", tex_escape(f"Throughput b{batch}"), "max"),
            Column("inference memory", "Inf. mem.", "min")]


def latency_cell(row: StrategyRow) -> Cell:
    """Latency as trained with its passes' range where recorded, e.g. ``7.21 ms (6.90–7.64)``."""
    if row.latency_ms is None:
        return Cell(NONE)
    span = row.latency_range_ms
    shown = format_milliseconds(row.latency_ms)
    if span is not None:
        shown += f" ({significant(span[0])}–{significant(span[1])})"
    return Cell(shown, row.latency_ms)


def inference_cells(row: StrategyRow) -> list[Cell]:
    return [latency_cell(row), merged_latency_cell(row),
            optional(row.throughput, lambda value: f"{significant(value)}/s"),
            optional(row.inference_memory_bytes, format_bytes)]


def main_grid(table: MainTable) -> Grid:
    split, metric = SPLIT_NAMES[table.split], table.metric
    columns = [Column("strategy", "Strategy", align="l"), Column("family", "Family", align="l"),
               Column(f"{split} {metric} (mean ± sd)", tex_escape(f"{split.capitalize()} {metric} (mean ± sd)")),
               Column(f"{split} 95% interval", tex_escape("95% interval"))]
    columns += [Column(f"{BESIDE.get(name, name.upper())}", tex_escape(BESIDE.get(name, name.upper()).capitalize()))
                for name in table.beside]
    columns += [Column(f"dev {metric} (mean)", tex_escape(f"Dev {metric}")),
                Column("trainable params", "Trainable", "min"), Column("trainable %", r"\%", "min"),
                Column("peak memory", "Peak mem.", "min"), Column("train time", "Train time", "min"),
                Column("samples/s (train)", "Samples/s", "max"), Column("artifact", "Artifact", "min")]
    points = f"{WITHIN * 100:g} pt"
    columns.append(Column(f"trials to within {points}", tex_escape(f"Trials to {points}")))
    columns.append(Column("selection optimism (dev)", "Sel. opt."))
    if table.split == "test":
        columns.append(Column(f"dev − {split} (seed runs)", tex_escape(f"Dev − {split}")))
    columns.append(Column("flags", "Flags", align="l"))
    if table.inference:
        columns += inference_columns(table)
    rows = []
    for row in table.rows:
        if row.score is None:
            reason = f"{row.status}: no seed runs" if not row.seeds else f"{metric} undefined on every seed run"
            rows.append([Cell(row.strategy), Cell(row.family), Cell(reason)] + [Cell(NONE)] * (len(columns) - 3))
            continue
        cells = [Cell(row.strategy, bold=row.top), Cell(row.family), mean_cell(row.score, True, row.top),
                 interval_cell(row)]
        cells += [optional(row.beside.get(name), fixed) for name in table.beside]
        cells += [mean_cell(row.dev, False), optional(row.trainable_params, format_count),
                  optional(row.trainable_percent, format_percent), optional(row.peak_memory_bytes, format_bytes),
                  optional(row.train_seconds, lambda s: f"{significant(s)} s"),
                  optional(row.samples_per_second, significant), optional(row.artifact_bytes, format_bytes),
                  budget_cell(row.expected), excess_cell(row.selection, SELECTION_MARK)]
        if table.split == "test":
            cells.append(excess_cell(row.split_gap, SPLIT_MARK))
        cells.append(Cell(", ".join(flags(row)) or NONE))
        if table.inference:
            cells += inference_cells(row)
        rows.append(cells)
    return Grid(columns, rows)


def main_csv(table: MainTable) -> str:
    prefix = f"{SPLIT_NAMES[table.split]}_{table.metric}".replace("-", "_")
    header = ["strategy", "status", "seeds", f"{prefix}_mean", f"{prefix}_std", f"{prefix}_interval_low",
              f"{prefix}_interval_high", f"{prefix}_interval_df", "top_group", "learned", "defaults_chosen",
              *(f"{SPLIT_NAMES[table.split]}_{name}_mean".replace("-", "_") for name in table.beside),
              f"dev_{table.metric}_mean", "trainable_params", "total_params", "trainable_percent", "peak_memory_bytes",
              "train_seconds_mean", "train_samples_per_second_mean", "artifact_bytes", "family", "iid_trials",
              f"expected_best_dev_{table.metric}_all_iid_trials", f"trials_to_within_{WITHIN * 100:g}pt",
              f"dev_{table.metric}_best_trial", "selection_optimism", "selection_optimism_se",
              "selection_optimism_beyond_noise", "dev_minus_held_out", "dev_minus_held_out_se",
              "dev_minus_held_out_beyond_noise", *INFERENCE_CSV]
    rows = []
    for row in table.rows:
        score, interval, curve = row.score, row.interval, row.expected
        available = curve is not None and curve.available
        rows.append([row.strategy, row.status, row.seeds, score and score.mean, score and score.std,
                     interval and interval.low, interval and interval.high, interval and interval.df, row.top,
                     row.learned, row.defaults, *(row.beside.get(name) for name in table.beside),
                     row.dev and row.dev.mean, row.trainable_params, row.total_params, row.trainable_percent,
                     row.peak_memory_bytes, row.train_seconds, row.samples_per_second, row.artifact_bytes, row.family,
                     len(curve.draws.used) if curve else 0, curve.unbiased[-1].mean if available else None,
                     curve.trials_to_within if available else None, row.selected_dev,
                     *excess_values(row.selection), *excess_values(row.split_gap), *inference_values(row.inference)])
    return to_csv(header, rows)


def excess_values(found: Excess | None) -> list[object]:
    return [None, None, None] if found is None else [found.estimate, found.standard_error, found.beyond_noise]


# ----------------------------------------------------------------------------- the verdict of every pair
def verdict_grid(table: MainTable) -> Grid | None:
    """Every pair of analysed strategies, in ranking order: the difference, its simultaneous interval, the
    verdict, and for an undetermined pair the seed runs or held-out rows that would likely decide it."""
    analysis = table.conclusions.analysis
    if analysis is None or not analysis.pairs:
        return None
    split = SPLIT_NAMES[table.split]
    seeds = min(analysis.seeds.values())
    columns = [Column("ahead", "Ahead", align="l"), Column("behind", "Behind", align="l"),
               Column(f"difference ({split} {table.metric})", "Difference"),
               Column(f"simultaneous {1 - analysis.alpha:.0%} interval",
                      tex_escape(f"Simultaneous {1 - analysis.alpha:.0%} interval")),
               Column("verdict", "Verdict", align="l"),
               Column(f"seeds per strategy that would decide (now {seeds})", "Seeds to decide"),
               Column(f"{split} rows that would decide (now {analysis.rows:,})", "Rows to decide")]
    rows = [[Cell(pair.ahead), Cell(pair.behind), Cell(signed(pair.difference.estimate)),
             Cell(f"[{signed(pair.difference.low)}, {signed(pair.difference.high)}]"),
             Cell(verdict_text(pair), bold=pair.verdict != "undetermined"),
             needed_cell(pair, pair.needed_seeds, f"more than {MAX_SEEDS}"),
             needed_cell(pair, pair.needed_examples, "none: the seeds' term alone is too large")]
            for pair in analysis.pairs]
    return Grid(columns, rows)


def verdict_text(pair: PairVerdict) -> str:
    return f"{pair.ahead} better" if pair.verdict == "better" else pair.verdict


def needed_cell(pair: PairVerdict, needed: int | None, beyond: str) -> Cell:
    if pair.verdict != "undetermined":
        return Cell(NONE)
    return Cell(beyond if needed is None else f"{needed:,}")


def verdict_csv(table: MainTable) -> str:
    header = ["ahead", "behind", "difference", "interval_low", "interval_high", "interval_level", "df", "p_adjusted",
              "verdict", "margin", "pairs", "needed_seeds", "needed_examples"]
    analysis = table.conclusions.analysis
    rows = [[p.ahead, p.behind, p.difference.estimate, p.difference.low, p.difference.high, p.difference.level,
             p.difference.df, p.p_adjusted, p.verdict, p.margin, p.comparisons, p.needed_seeds, p.needed_examples]
            for p in (analysis.pairs if analysis else [])]
    return to_csv(header, rows)


def verdict_notes(table: MainTable) -> list[str]:
    """How to read the verdicts: the margin, the correction, each verdict's meaning, and the power estimate."""
    analysis = table.conclusions.analysis
    meanings = [f"*{verdict}*: {meaning}" for verdict, meaning in VERDICT_MEANINGS.items()]
    return [f"Difference: ahead − behind on {SPLIT_NAMES[table.split]} {table.metric}; interval: {analysis.correction} "
            f"({analysis.method}). Equivalence margin: ±{analysis.margin:g} (`--margin`).", *meanings,
            "Seeds or rows that would decide: the fewest seed runs per strategy (at today's rows), or held-out rows "
            "(at today's seeds), at which the pair would be decided with 80% probability if the observed difference "
            "and variance were the truth: a guide to what to add, not a promise."]


INFERENCE_CSV = ["latency_b1_ms", "throughput", "inference_batch_size", "inference_memory_bytes", "merged_latency_b1_ms",
                 "merged_throughput", "merged_inference_memory_bytes", "merged_max_logit_difference",
                 "merged_predictions_equal", "merge_note"]


def inference_values(inference: InferenceCost | None) -> list[object]:
    """The main CSV's inference columns (``INFERENCE_CSV``): as trained, then merged."""
    if inference is None:
        return [None] * len(INFERENCE_CSV)
    trained, merged = inference.as_trained, inference.merged
    return [trained.latency_ms, trained.throughput, inference.batch_size, trained.memory_bytes,
            merged and merged.latency_ms, merged and merged.throughput, merged and merged.memory_bytes,
            inference.max_logit_difference, inference.predictions_equal, inference.merge_note]


def expected_csv(table: MainTable) -> str:
    """Every point of every expected-best curve (the figure's data), with both estimators."""
    metric = table.metric
    header = ["strategy", "n", "iid_trials", f"expected_best_dev_{metric}", "sd",
              f"expected_best_dev_{metric}_with_replacement", "sd_with_replacement"]
    rows = []
    for row in table.rows:
        curve = row.expected
        if curve is None or not curve.available:
            continue
        for unbiased, biased in zip(curve.unbiased, curve.with_replacement):
            rows.append([row.strategy, unbiased.n, len(curve.unbiased), unbiased.mean, unbiased.sd, biased.mean,
                         biased.sd])
    return to_csv(header, rows)


def main_notes(table: MainTable, results: ComparisonRecord) -> list[str]:
    """What the reader needs to read the table right; printed under it (and as LaTeX comments)."""
    split, conclusions = SPLIT_NAMES[table.split], table.conclusions
    analysis = conclusions.analysis
    notes = [f"{split.capitalize()} {table.metric}: mean ± sample standard deviation over the seed re-runs of each "
             f"strategy's best configuration, best first; dev {table.metric}: the split hyperparameters were selected "
             f"on, so it is optimistic."]
    if analysis is not None:
        notes.append(f"95% interval: {analysis.method}. **Bold: the top group**, the best estimate and every strategy "
                     f"not shown worse than it ({analysis.correction}; equivalence margin ±{analysis.margin:g}); "
                     f"the verdicts of every pair are below the table.")
        if not conclusions.per_row:
            notes.append(f"Evidence: {conclusions.evidence}.")
        notes.append(f"Baseline: {analysis.baseline.description}. *did not learn*: not above "
                     + ("the majority class and chance" if analysis.baseline.majority is not None else "chance")
                     + " beyond noise (one-sided, Bonferroni over the strategies).")
        if analysis.excluded:
            notes.append("Not analysed (no interval, not in the verdicts): " + "; ".join(
                f"{name}: {why}" for name, why in analysis.excluded.items()) + ".")
        if analysis.rows_left_out:
            notes.append(f"{analysis.rows_left_out} {split} rows some seed run did not predict are left out of the "
                         f"intervals and verdicts, for every strategy.")
    elif conclusions.unavailable:
        notes.append(f"No intervals and no verdicts: {conclusions.unavailable}.")
    notes.append("Bold in the cost columns: the cheapest (samples/s: the fastest).")
    if table.beside:
        named = ", ".join(BESIDE.get(name, name.upper()) for name in table.beside)
        notes.append(f"{named}: means over seeds on {split}, beside the task's metric ({table.metric}), which alone "
                     "ranks and is judged.")
    if results.settings.get("first_trial") == "defaults":
        chosen = [row.strategy for row in table.rows if row.defaults]
        notes.append("*defaults*: the chosen configuration is the strategy's defaults (every study's first trial runs "
                     "them; the search found nothing better on dev)" + (f": {', '.join(chosen)}." if chosen else
                                                                       "; none here."))
    notes.append(f"Trials to within {WITHIN * 100:g} pt: the fewest random-search trials n whose expected best dev "
                 f"{table.metric} is within {WITHIN:g} of the expected best of all N i.i.d. trials, shown as n of N "
                 "(unbiased estimator of Tang et al. 2020; which trials count, and why: report.md, section Expected "
                 "best dev score against search budget); n/a where fewer than 2 trials were i.i.d. draws.")
    notes.append(optimism_note(table))
    if table.inference:
        notes.append(inference_note(table))
    if results.seeds == 0:
        notes.append("No strategy has seed runs yet, so there is nothing to summarise.")
    elif results.seeds == 1:
        notes.append("Only one seed per strategy: nothing measures seed-to-seed variation, so there are no intervals, "
                     "verdicts or optimism flags (n/a (1 seed)).")
    return notes


def inference_note(table: MainTable) -> str:
    """What the inference columns measured (the same sample and settings for every strategy)."""
    found = table.inference
    first = found[0]
    settings = sorted({(i.examples, i.passes, i.threads) for i in found})
    how = "; ".join(f"{examples} dev rows, median of {passes} timed passes, {threads} threads"
                    for examples, passes, threads in settings)
    ranged = any(row.latency_range_ms is not None for row in table.rows)
    span = (" In brackets: the fastest and slowest pass, an interval that holds the median pass with probability "
            f"{first.range_coverage:.0%} whatever the timing noise's shape." if ranged else "")
    return (f"Latency b1: inference time per example at batch 1; throughput b{first.batch_size}: examples per second "
            f"in batches of {first.batch_size}; both of the trained model (encoder and head) as trained, on one seed "
            f"run per strategy ({how}). Merged: the adapter merged into the base weights (peft merge_and_unload); "
            f"n/a where nothing merges; ≠ where the merged predictions differ from the trained ones by more than "
            f"float rounding (largest logit difference over {first.tolerance:g}). Inference memory: the parameters and "
            f"buffers of the model as trained (4-bit weights at their packed size), not activations. report.md, section "
            f"Inference cost, says why each strategy does or does not merge.{span}")


def optimism_note(table: MainTable) -> str:
    """The two optimism figures, each flagged only where it exceeds its own noise."""
    split = SPLIT_NAMES[table.split]

    def flagged(found: list[tuple[str, Excess | None]]) -> str:
        names = [name for name, excess in found if excess is not None and excess.beyond_noise]
        return ", ".join(names) if names else "none"

    note = (f"Selection optimism: the dev {table.metric} of the trial that chose the configuration minus the mean dev "
            f"{table.metric} of its seed re-runs, how much picking the best of several trials on dev flattered it; "
            f"{SELECTION_MARK} where it exceeds its noise (the re-runs' seed spread; one-sided, Bonferroni over the "
            f"strategies): {flagged([(row.strategy, row.selection) for row in table.rows])}.")
    if table.split == "test":
        note += (f" Dev − {split}: the seed re-runs' mean dev {table.metric} minus their mean {split} {table.metric}, "
                 f"the difference between the two splits (not selection: the re-runs were not selected); "
                 f"{SPLIT_MARK} where it exceeds the noise of both scores (two-sided, Bonferroni over the strategies): "
                 f"{flagged([(row.strategy, row.split_gap) for row in table.rows])}.")
    return note


def memory_kinds(results: ComparisonRecord) -> str:
    kinds = {r.memory_kind for s in results.strategies.values() for r in s.seed_runs}
    described = {"cpu_peak_rss": "process peak RSS: model, data and Python included",
                 "cuda_max_allocated": "CUDA max allocated"}
    return "; ".join(described.get(k, k) for k in sorted(kinds)) or "not measured"


# ----------------------------------------------------------------------------- several comparisons
@dataclass(frozen=True)
class CombinedTable:
    """Strategies × comparisons (tasks or models) on each comparison's ranking split, GLUE-paper style."""

    labels: list[str]
    metrics: list[str]
    splits: list[str]
    strategies: list[str]
    cells: dict[str, list[Spread | None]]  # strategy → one summary per comparison
    infos: dict[str, StrategyInfo]  # strategy → what it declares (family, place in the registry)
    top_groups: list[list[str]]  # each comparison's top group (reports.conclusions)
    intervals: dict[str, list[Interval | None]]  # strategy → its 95% interval (the conclusions') per comparison, None where none

    def average(self, strategy: str) -> float | None:
        """Mean over comparisons, only where the strategy has a score in every one."""
        values = self.cells[strategy]
        return None if any(v is None for v in values) else statistics.fmean(v.mean for v in values)


def run_labels(runs: list[ComparisonRecord]) -> list[str]:
    """Task names, with the model added where that is what tells comparisons apart."""
    tasks = [r.task.name for r in runs]
    if len(set(tasks)) == len(tasks):
        return tasks
    labels = [f"{r.task.name} / {r.model_short}" for r in runs]
    if len(set(labels)) == len(labels):
        return labels
    return [f"{label} ({r.directory.name})" for label, r in zip(labels, runs)]


def combined_table(runs: list[ComparisonRecord], margin: float | None = None) -> CombinedTable:
    infos = {name: strategy.info for run in runs for name, strategy in run.strategies.items()}
    order = list(FAMILIES)
    strategies = sorted(infos, key=lambda name: order.index(infos[name].family))
    found = [conclude(run, margin) for run in runs]
    cells: dict[str, list[Spread | None]] = {}
    for name in strategies:
        cells[name] = []
        for run, conclusions in zip(runs, found):
            scores = run.strategies[name].scores(conclusions.split, run.task.metric) if name in run.strategies else {}
            cells[name].append(spread(list(scores.values())) if scores else None)
    intervals = {name: [c.analysis.scores.get(name) if c.analysis else None for c in found] for name in strategies}
    return CombinedTable(run_labels(runs), [r.task.metric for r in runs], [c.split for c in found], strategies, cells,
                         infos, [c.top_group for c in found], intervals)


def combined_grid(table: CombinedTable) -> Grid:
    columns = [Column("strategy", "Strategy", align="l")]
    columns += [Column(f"{label} ({SPLIT_NAMES[split]} {metric})", tex_escape(label))
                for label, metric, split in zip(table.labels, table.metrics, table.splits)]
    columns.append(Column("average", "Avg."))
    rows = []
    for name in table.strategies:
        average = table.average(name)
        rows.append([Cell(name)] + [mean_cell(s, True, name in top) for s, top in zip(table.cells[name], table.top_groups)]
                    + [Cell(NONE) if average is None else Cell(fixed(average), round(average, METRIC_DECIMALS))])
    return Grid(columns, rows)


def combined_csv(table: CombinedTable) -> str:
    header = ["strategy"]
    for label, split, metric in zip(table.labels, table.splits, table.metrics):
        header += [f"{label} {SPLIT_NAMES[split]} {metric} mean", f"{label} {SPLIT_NAMES[split]} {metric} std",
                   f"{label} seeds"]
    header.append("average")
    rows = []
    for name in table.strategies:
        row: list[object] = [name]
        for summary in table.cells[name]:
            row += [summary.mean, summary.std, summary.n] if summary else [None, None, 0]
        rows.append(row + [table.average(name)])
    return to_csv(header, rows)


def combined_notes(table: CombinedTable) -> list[str]:
    return ["Each cell: mean ± sample standard deviation over seeds on that comparison's held-out split "
            "(dev where a comparison has none, as labelled in the header). Average: mean of the per-task means, "
            "only for strategies present in every comparison; metrics of different tasks are averaged as they are, "
            "as GLUE papers do, and the average is a description, not a verdict. Bold: each comparison's top group "
            "(its own report: the strategies not shown worse than its best)."]
