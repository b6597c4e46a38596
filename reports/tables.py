"""The main table (one row per strategy) and the combined table (strategies × tasks), each rendered as
Markdown, CSV and LaTeX (booktabs) from one :class:`Grid`, so the three never disagree.

Markdown and LaTeX show rounded numbers with the best value of each column in bold; the CSV holds
the full-precision numbers for anyone who wants to redo the arithmetic.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from dataclasses import dataclass, field
from typing import Callable

from core.strategy import FAMILIES, StrategyInfo
from reports.expected import WITHIN, ExpectedCurve, expected_curve
from core.records import ComparisonRecord, InferenceCost, SPLIT_NAMES, StrategyRecord
from reports.stats import ALPHA, CONFIDENCE, Difference, Summary, paired_t_test, summarize
from core.units import format_bytes, format_count, format_milliseconds, format_percent, significant

METRIC_DECIMALS = 3
NONE = "—"


@dataclass(frozen=True)
class StrategyRow:
    """One strategy's numbers, aggregated over its seed runs."""

    strategy: str
    info: StrategyInfo
    status: str
    seeds: int
    score: Summary | None  # on the ranking split (held-out when present)
    dev: Summary | None
    trainable_params: int | None
    total_params: int | None
    peak_memory_bytes: int | None  # highest over seeds: what a machine must provide
    train_seconds: float | None  # mean over seeds
    samples_per_second: float | None  # mean over seeds
    artifact_bytes: int | None
    vs_reference: Difference | None  # score - reference score, paired by seed
    expected: ExpectedCurve | None = None  # expected best dev score against search budget (reports.expected)
    selected_dev: float | None = None  # dev score of the trial that chose this configuration (the study's best)
    optimism: float | None = None  # selected_dev − held-out mean over seeds; None without a held-out split
    inference: InferenceCost | None = None  # what its trained model costs to run (one seed run), when measured

    @property
    def optimism_exceeds_spread(self) -> bool:
        """Dev overstates held-out by more than the held-out seed standard deviation."""
        return self.optimism is not None and self.score.std is not None and self.optimism > self.score.std

    @property
    def family(self) -> str:
        return self.info.family

    @property
    def latency_ms(self) -> float | None:
        """Inference latency per example at batch 1, as trained."""
        return self.inference.as_trained.latency_ms if self.inference else None

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
    rows: list[StrategyRow]
    reference: str | None  # None when significance is skipped
    notes: list[str] = field(default_factory=list)

    @property
    def inference(self) -> list[InferenceCost]:
        """The inference measurements of its strategies (none in a results.json from before peftbench made them)."""
        return [row.inference for row in self.rows if row.inference is not None]


def strategy_row(results: ComparisonRecord, strategy: StrategyRecord, reference: StrategyRecord | None) -> StrategyRow:
    runs = strategy.seed_runs
    metric, split = results.task.metric, results.split
    curve = expected_curve(results, strategy)
    selected = strategy.best.value if strategy.best is not None else None  # the chosen trial's dev score
    if not runs:
        return StrategyRow(strategy.name, strategy.info, strategy.status, 0, None, None, None, None, None, None, None,
                           None, None, curve, selected)
    scores = strategy.scores(split, metric)
    score = summarize(list(scores.values()))
    vs = None
    if reference is not None and strategy.name != reference.name:
        vs = paired_t_test(scores, reference.scores(split, metric))
    return StrategyRow(
        strategy=strategy.name, info=strategy.info, status=strategy.status, seeds=len(runs),
        score=score, dev=summarize(list(strategy.scores("dev", metric).values())),
        trainable_params=runs[0].trainable_params, total_params=runs[0].total_params,
        peak_memory_bytes=max(r.peak_memory_bytes for r in runs),
        train_seconds=statistics.fmean(r.train_seconds for r in runs),
        samples_per_second=statistics.fmean(r.train_samples_per_second for r in runs),
        artifact_bytes=max(r.artifact_bytes for r in runs), vs_reference=vs, expected=curve, selected_dev=selected,
        optimism=selected - score.mean if selected is not None and split == "test" else None,
        inference=strategy.inference,
    )


def main_table(results: ComparisonRecord) -> MainTable:
    """Every strategy's row, grouped by family (in ``FAMILIES`` order) and best first within a family;
    significance against the strategy that declares itself the reference (full fine-tuning), where it
    has seed runs."""
    candidate = next((s for s in results.strategies.values() if s.info.reference), None)
    reference = candidate if candidate is not None and candidate.seed_runs else None
    notes = []
    if candidate is None:
        notes.append("No significance test: the reference strategy (full fine-tuning) was not part of this comparison.")
    elif reference is None:
        notes.append(f"No significance test: `{candidate.name}` has no seed runs ({candidate.status}).")
    families = list(FAMILIES)
    ordered = sorted(results.strategies.values(), key=lambda s: families.index(s.info.family))
    rows = [strategy_row(results, s, reference) for s in ordered]
    rows.sort(key=lambda r: (families.index(r.family), -(r.score.mean if r.score else -math.inf)))
    return MainTable(results.split, results.task.metric, rows, reference.name if reference else None, notes)


# ----------------------------------------------------------------------------- one grid, three renderings
@dataclass(frozen=True)
class Cell:
    text: str
    value: float | None = None  # what "best in column" compares; None never wins


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
        cells = [f"**{md_escape(cell.text)}**" if cell.value is not None and cell.value == b else md_escape(cell.text)
                 for cell, b in zip(row, best)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


TEX_REPLACEMENTS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "$": r"\$",
                    "{": r"\{", "}": r"\}", "±": r"$\pm$", "—": "---", "–": "--", "−": "$-$", "Δ": r"$\Delta$",
                    "×": r"$\times$", "≥": r"$\geq$", "≤": r"$\leq$", "*": r"$^{*}$", "~": r"\textasciitilde{}",
                    "†": r"$^{\dagger}$", "≠": r"$\neq$"}


def tex_escape(text: str) -> str:
    return "".join(TEX_REPLACEMENTS.get(ch, ch) for ch in text)


def to_latex(grid: Grid, comments: list[str]) -> str:
    """A booktabs ``tabular`` to ``\\input`` inside a table float (needs ``\\usepackage{booktabs}``)."""
    best = grid.best()
    lines = [f"% {line}" for line in comments]
    lines += ["\\begin{tabular}{" + "".join(c.align for c in grid.columns) + "}", r"\toprule",
              " & ".join(c.tex for c in grid.columns) + r" \\", r"\midrule"]
    for row in grid.rows:
        cells = [f"\\textbf{{{tex_escape(cell.text)}}}" if cell.value is not None and cell.value == b
                 else tex_escape(cell.text) for cell, b in zip(row, best)]
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


def mean_cell(summary: Summary | None, with_std: bool) -> Cell:
    if summary is None:
        return Cell(NONE)
    text = fixed(summary.mean)
    if with_std:
        text += f" ± {fixed(summary.std)}" if summary.std is not None else " (1 seed)"
    return Cell(text, round(summary.mean, METRIC_DECIMALS))


def ci_cell(summary: Summary | None) -> Cell:
    if summary is None:
        return Cell(NONE)
    if summary.ci_low is None:
        return Cell(summary.reason or NONE)
    return Cell(f"[{fixed(summary.ci_low)}, {fixed(summary.ci_high)}]")


def difference_cell(row: StrategyRow, reference: str) -> Cell:
    if row.strategy == reference:
        return Cell("reference")
    diff = row.vs_reference
    if diff is None:
        return Cell(NONE)
    if diff.p is None:
        return Cell(diff.reason or NONE)
    star = "*" if diff.significant() else ""
    return Cell(f"{signed(diff.mean)}, p={diff.p:.2g}{star}")


def optional(value: float | None, render: Callable[[float], str]) -> Cell:
    return Cell(NONE) if value is None else Cell(render(value), value)


def budget_cell(curve: ExpectedCurve | None) -> Cell:
    """``k of N``: random-search trials to come within 0.5 pt of the expected best of all N i.i.d. trials."""
    if curve is None:
        return Cell(NONE)
    if not curve.available:
        return Cell(curve.reason)
    return Cell(f"{curve.trials_to_within} of {len(curve.unbiased)}")


def optimism_cell(row: StrategyRow) -> Cell:
    if row.optimism is None:
        return Cell(NONE)
    return Cell(signed(row.optimism) + (" †" if row.optimism_exceeds_spread else ""))


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


def inference_cells(row: StrategyRow) -> list[Cell]:
    return [optional(row.latency_ms, format_milliseconds), merged_latency_cell(row),
            optional(row.throughput, lambda value: f"{significant(value)}/s"),
            optional(row.inference_memory_bytes, format_bytes)]


def main_grid(table: MainTable) -> Grid:
    split, metric = SPLIT_NAMES[table.split], table.metric
    columns = [Column("strategy", "Strategy", align="l"), Column("family", "Family", align="l"),
               Column(f"{split} {metric} (mean ± sd)", tex_escape(f"{split.capitalize()} {metric} (mean ± sd)"), "max"),
               Column(f"{split} {int(CONFIDENCE * 100)}% CI (t)", tex_escape(f"{int(CONFIDENCE * 100)}% CI")),
               Column(f"dev {metric} (mean)", tex_escape(f"Dev {metric}"), "max"),
               Column("trainable params", "Trainable", "min"), Column("trainable %", r"\%", "min"),
               Column("peak memory", "Peak mem.", "min"), Column("train time", "Train time", "min"),
               Column("samples/s (train)", "Samples/s", "max"), Column("artifact", "Artifact", "min")]
    if table.reference:
        columns.append(Column(f"Δ {split} vs {table.reference}, p", tex_escape(f"Δ vs {table.reference} (p)")))
    points = f"{WITHIN * 100:g} pt"
    columns.append(Column(f"trials to within {points}", tex_escape(f"Trials to {points}")))
    if table.split == "test":
        columns.append(Column(f"dev − {split} (best trial)", tex_escape(f"Dev − {split}")))
    if table.inference:
        columns += inference_columns(table)
    rows = []
    for row in table.rows:
        if row.score is None:
            cells = [Cell(row.strategy), Cell(row.family), Cell(f"{row.status}: no seed runs")] + \
                [Cell(NONE)] * (len(columns) - 3)
            rows.append(cells)
            continue
        cells = [Cell(row.strategy), Cell(row.family), mean_cell(row.score, True), ci_cell(row.score), mean_cell(row.dev, False),
                 optional(row.trainable_params, format_count), optional(row.trainable_percent, format_percent),
                 optional(row.peak_memory_bytes, format_bytes),
                 optional(row.train_seconds, lambda s: f"{significant(s)} s"),
                 optional(row.samples_per_second, significant), optional(row.artifact_bytes, format_bytes)]
        if table.reference:
            cells.append(difference_cell(row, table.reference))
        cells.append(budget_cell(row.expected))
        if table.split == "test":
            cells.append(optimism_cell(row))
        if table.inference:
            cells += inference_cells(row)
        rows.append(cells)
    return Grid(columns, rows)


def main_csv(table: MainTable) -> str:
    prefix = f"{SPLIT_NAMES[table.split]}_{table.metric}".replace("-", "_")
    header = ["strategy", "status", "seeds", f"{prefix}_mean", f"{prefix}_std", f"{prefix}_ci95_low",
              f"{prefix}_ci95_high", f"dev_{table.metric}_mean", "trainable_params", "total_params",
              "trainable_percent", "peak_memory_bytes", "train_seconds_mean", "train_samples_per_second_mean",
              "artifact_bytes", f"diff_vs_{table.reference or 'reference'}", f"p_vs_{table.reference or 'reference'}",
              "stats_note", "family", "iid_trials", f"expected_best_dev_{table.metric}_all_iid_trials",
              "trials_to_within_0.5pt", f"dev_{table.metric}_best_trial", "optimism", "optimism_exceeds_sd",
              "dev_mean_minus_held_out_mean", *INFERENCE_CSV]
    rows = []
    for row in table.rows:
        score, diff, curve = row.score, row.vs_reference, row.expected
        note = (score.reason if score else row.status) or (diff.reason if diff else None)
        available = curve is not None and curve.available
        rows.append([row.strategy, row.status, row.seeds, score and score.mean, score and score.std,
                     score and score.ci_low, score and score.ci_high, row.dev and row.dev.mean, row.trainable_params,
                     row.total_params, row.trainable_percent, row.peak_memory_bytes, row.train_seconds,
                     row.samples_per_second, row.artifact_bytes, diff and diff.mean, diff and diff.p, note, row.family,
                     len(curve.draws.used) if curve else 0, curve.unbiased[-1].mean if available else None,
                     curve.trials_to_within if available else None, row.selected_dev, row.optimism,
                     row.optimism_exceeds_spread if row.optimism is not None else None,
                     row.dev.mean - score.mean if row.dev and score and table.split == "test" else None,
                     *inference_values(row.inference)])
    return to_csv(header, rows)


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
    split = SPLIT_NAMES[table.split]
    notes = [f"{split.capitalize()} {table.metric}: mean ± sample standard deviation over seed re-runs of each "
             f"strategy's best configuration; {int(CONFIDENCE * 100)}% CI: Student-t interval of the mean over seeds "
             f"(n−1 degrees of freedom). Dev {table.metric}: the split hyperparameters were selected on, so it is "
             f"optimistic.",
             "Peak memory: the highest over seeds "
             f"({memory_kinds(results)}); train time and samples/s: means over seeds; bold: best in each column."]
    if table.reference:
        notes.append(f"Δ vs {table.reference}: difference of {split} means; p: two-sided paired t-test across seeds "
                     f"matched by seed number; * p < {ALPHA}.")
    notes.append(f"Trials to within {WITHIN * 100:g} pt: the fewest random-search trials n whose expected best dev "
                 f"{table.metric} is within {WITHIN:g} of the expected best of all N i.i.d. trials, shown as n of N "
                 "(unbiased estimator of Tang et al. 2020; which trials count, and why: report.md, section Expected "
                 "best dev score against search budget); n/a where fewer than 2 trials were i.i.d. draws.")
    if table.split == "test":
        notes.append(optimism_note(table))
    if table.inference:
        notes.append(inference_note(table))
    if results.seeds == 0:
        notes.append("No strategy has seed runs yet, so there is nothing to summarise.")
    elif results.seeds == 1:
        notes.append("Only one seed per strategy: confidence intervals and significance tests are omitted "
                     "(n/a (1 seed)) rather than estimated.")
    return notes + table.notes


def inference_note(table: MainTable) -> str:
    """What the inference columns measured (the same sample and settings for every strategy)."""
    found = table.inference
    first = found[0]
    settings = sorted({(i.examples, i.passes, i.threads) for i in found})
    how = "; ".join(f"{examples} dev rows, median of {passes} timed passes, {threads} threads"
                    for examples, passes, threads in settings)
    return (f"Latency b1: inference time per example at batch 1; throughput b{first.batch_size}: examples per second "
            f"in batches of {first.batch_size}; both of the trained model (encoder and head) as trained, on one seed "
            f"run per strategy ({how}). Merged: the adapter merged into the base weights (peft merge_and_unload); "
            f"n/a where nothing merges; ≠ where the merged predictions differ from the trained ones by more than "
            f"float rounding (largest logit difference over {first.tolerance:g}). Inference memory: the parameters and "
            f"buffers of the model as trained (4-bit weights at their packed size), not activations. report.md, section "
            f"Inference cost, says why each strategy does or does not merge.")


def optimism_note(table: MainTable) -> str:
    """What the dev − held-out column is, and where it is more than seed noise."""
    rows = [row for row in table.rows if row.optimism is not None]
    flagged = [row.strategy for row in rows if row.optimism_exceeds_spread]
    note = (f"Dev − held-out: the dev {table.metric} of the trial that chose each configuration (what the search "
            f"reported) minus that configuration's held-out mean over seeds. Positive: the tuned dev score overstates "
            f"what it does on unseen data (the best of several trials on dev is partly luck, and the splits differ). ")
    if flagged:
        names = ", ".join(flagged)
        note += (f"†: larger than the held-out seed sd, so more than seed noise: {names}. Expect "
                 f"{'its' if len(flagged) == 1 else 'their'} dev scores not to hold beyond this search.")
    elif any(row.score.std is not None for row in rows):
        note += "No strategy's exceeds its held-out seed sd."
    else:
        note += "With one seed there is no seed spread to compare it with."
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
    cells: dict[str, list[Summary | None]]  # strategy → one summary per comparison
    families: dict[str, str]  # strategy → its declared family

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


def combined_table(runs: list[ComparisonRecord]) -> CombinedTable:
    families = {name: strategy.info.family for run in runs for name, strategy in run.strategies.items()}
    order = list(FAMILIES)
    strategies = sorted(families, key=lambda name: order.index(families[name]))
    cells: dict[str, list[Summary | None]] = {}
    for name in strategies:
        cells[name] = []
        for run in runs:
            scores = run.strategies[name].scores(run.split, run.task.metric) if name in run.strategies else {}
            cells[name].append(summarize(list(scores.values())) if scores else None)
    return CombinedTable(run_labels(runs), [r.task.metric for r in runs], [r.split for r in runs], strategies, cells,
                         families)


def combined_grid(table: CombinedTable) -> Grid:
    columns = [Column("strategy", "Strategy", align="l")]
    columns += [Column(f"{label} ({SPLIT_NAMES[split]} {metric})", tex_escape(label), "max")
                for label, metric, split in zip(table.labels, table.metrics, table.splits)]
    columns.append(Column("average", "Avg.", "max"))
    rows = []
    for name in table.strategies:
        average = table.average(name)
        rows.append([Cell(name)] + [mean_cell(s, True) for s in table.cells[name]]
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
            "as GLUE papers do. Bold: best in each column."]
