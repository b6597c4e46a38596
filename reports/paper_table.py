"""``paper.tex``: the comparison as a table a paper can ``\\input`` as it is: a ``table`` float with ``\\caption`` and
``\\label``, booktabs rules, column groups under ``\\cmidrule``, units in the headers, scores in percent as mean ±
half of their 95% interval, the top group in bold and a mark on every strategy the corrected tests show worse than
the best. A compact set of columns by default; ``runners.report --columns`` chooses others (``PAPER_COLUMNS``).
``table.tex`` keeps every column."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from peftbench.errors import UserError
from peftbench.records import SPLIT_NAMES
from reports.tables import BESIDE, MainTable, StrategyRow, tex_escape

WORSE_MARK = r"$^{\downarrow}$"


@dataclass(frozen=True)
class PaperColumn:
    group: str  # the column group its header sits under ("{metric}" is replaced by the table's)
    header: str  # LaTeX, with its unit
    cell: Callable[[StrategyRow], str | None]  # None: not measured
    best: str | None = None  # "min" | "max": bold the best value (costs only; scores bold the top group)
    value: Callable[[StrategyRow], float | None] = lambda row: None


def percent(value: float | None) -> str | None:
    return None if value is None else f"{100 * value:.1f}"


def score(row: StrategyRow) -> str | None:
    if row.score is None:
        return None
    half = (row.interval.high - row.interval.low) / 2 if row.interval else row.score.std
    return f"{100 * row.score.mean:.1f}" + (f" $\\pm$ {100 * half:.1f}" if half is not None else "")


def shown_worse(table: MainTable) -> set[str]:
    """The strategies the best is *better* than by the corrected tests: those analysed and not in the top group."""
    analysis = table.conclusions.analysis
    return set() if analysis is None else set(analysis.ranking) - set(analysis.top_group)


def beside(metric: str) -> PaperColumn:
    return PaperColumn("{metric}", tex_escape(BESIDE.get(metric, metric).capitalize()),
                       lambda row: percent(row.beside.get(metric)))


PAPER_COLUMNS: dict[str, PaperColumn] = {
    "score": PaperColumn("{metric}", "Mean $\\pm$ CI", score),
    "macro_f1": beside("macro_f1"),
    "recall": beside("recall"),
    "mcc": beside("mcc"),
    "dev": PaperColumn("{metric}", "Dev", lambda row: percent(row.dev.mean if row.dev else None)),
    "trainable": PaperColumn("Cost per run", "Train. (\\%)",
                             lambda row: None if row.trainable_percent is None
                             else f"{row.trainable_percent:.3g}", "min", lambda row: row.trainable_percent),
    "memory": PaperColumn("Cost per run", "Mem. (GiB)",
                          lambda row: None if row.peak_memory_bytes is None
                          else f"{row.peak_memory_bytes / 2**30:.2f}", "min", lambda row: row.peak_memory_bytes),
    "time": PaperColumn("Cost per run", "Time (s)",
                        lambda row: None if row.train_seconds is None else f"{row.train_seconds:.1f}", "min",
                        lambda row: row.train_seconds),
    "latency": PaperColumn("Inference", "Latency (ms)",
                           lambda row: None if row.latency_ms is None else f"{row.latency_ms:.2f}", "min",
                           lambda row: row.latency_ms),
}
DEFAULT_COLUMNS = ("score", "trainable", "memory")  # fits one column of a two-column paper; --columns adds more


def parse_columns(text: str) -> tuple[str, ...]:
    """``--columns score,trainable,...`` (or ``all``), checked against PAPER_COLUMNS."""
    names = tuple(PAPER_COLUMNS) if text == "all" else tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in PAPER_COLUMNS]
    if unknown or not names:
        raise UserError(f"unknown --columns {', '.join(unknown) or '(none)'}: choose from {', '.join(PAPER_COLUMNS)} "
                        f"or all")
    return names


def paper_latex(table: MainTable, columns: Sequence[str] = DEFAULT_COLUMNS, label: str = "tab:peftbench") -> str:
    """The table float, ready to ``\\input`` (needs ``\\usepackage{booktabs}``)."""
    chosen = [PAPER_COLUMNS[name] for name in columns]
    metric, split = table.metric, SPLIT_NAMES[table.split]
    groups: list[tuple[str, int]] = []  # (group, span) in column order
    for column in chosen:
        group = column.group.replace("{metric}", f"{split.capitalize()} {metric} (%)")
        if groups and groups[-1][0] == group:
            groups[-1] = (group, groups[-1][1] + 1)
        else:
            groups.append((group, 1))
    rows = [row for row in table.rows if row.score is not None]
    best = {index: (min if column.best == "min" else max)(values)
            for index, column in enumerate(chosen) if column.best
            and (values := [v for row in rows if (v := column.value(row)) is not None])}
    lines = [r"\begin{table}[t]", r"\centering", r"\footnotesize", r"\setlength{\tabcolsep}{3pt}",
             r"\begin{tabular}{l" + "r" * len(chosen) + "}", r"\toprule"]
    heads, rules, start = [""], [], 2
    for group, span in groups:
        heads.append(f"\\multicolumn{{{span}}}{{c}}{{{tex_escape(group)}}}")
        rules.append(f"\\cmidrule(lr){{{start}-{start + span - 1}}}")
        start += span
    worse = shown_worse(table)
    lines += [" & ".join(heads) + r" \\", " ".join(rules),
              " & ".join(["Strategy"] + [column.header for column in chosen]) + r" \\", r"\midrule"]
    for row in rows:
        cells = [f"\\textbf{{{tex_escape(row.strategy)}}}" if row.top else tex_escape(row.strategy)]
        for index, column in enumerate(chosen):
            text = column.cell(row)
            if text is not None and column.cell is score and row.strategy in worse:
                text += WORSE_MARK
            bold = (column.cell is score and row.top) or (index in best and column.value(row) == best[index])
            cells.append("--" if text is None else f"\\textbf{{{text}}}" if bold else text)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", f"\\caption{{{caption(table, rows)}}}", f"\\label{{{label}}}",
              r"\end{table}"]
    return "\n".join(lines) + "\n"


def caption(table: MainTable, rows: list[StrategyRow]) -> str:
    analysis = table.conclusions.analysis
    seeds = min(row.seeds for row in rows) if rows else 0
    text = (f"{SPLIT_NAMES[table.split].capitalize()} {table.metric} (\\%) of each strategy's best configuration, mean "
            f"over {seeds} or more seeds $\\pm$ half of its 95\\% interval (CI: seeds and {SPLIT_NAMES[table.split]} "
            f"rows). Costs per training run: trainable parameters (\\% of the model) and peak memory.")
    if analysis is not None:
        text += (f" Bold: the top group, the best and every strategy not shown worse than it; {WORSE_MARK}: shown "
                 f"worse than the best (simultaneous 95\\% intervals, Bonferroni over {len(analysis.pairs)} pairs, "
                 f"margin $\\pm${analysis.margin:g}). Bold costs: the lowest.")
    return text
