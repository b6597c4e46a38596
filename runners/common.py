"""Command-line pieces shared by the runners."""

from __future__ import annotations

from peftbench import cli
from peftbench.config import PRECISIONS, TrainConfig
from peftbench.models import DEFAULT_MODEL, POOLINGS
from peftbench.strategy import FAMILIES
from peftbench.task_files import DATA_DIR_ENV
from peftbench.task_types import task_names
from strategies import STRATEGIES


def add_run_arguments(parser: cli.ArgumentParser, model_default: str | None, max_length_default: int | None) -> None:
    """Flags shared by every runner that trains (train, compare); None defaults come from a preset."""
    data = parser.add_argument_group("task and data")
    data.add_argument("--task", default="sst2", help=f"GLUE task ({', '.join(task_names())}) or a path to a "
                      "CSV/TSV/JSONL file or a directory with train.*/dev.*/test.* (default: sst2)")
    data.add_argument("--data-dir", help=f"directory holding <task>/train.tsv and dev.tsv in GLUE layout "
                      f"(default: ${DATA_DIR_ENV}, ./data, or ../shared/data beside the checkout; then the HF hub)")
    data.add_argument("--text-columns", type=lambda s: tuple(c for c in s.split(",") if c),
                      help="custom tasks: comma-separated text column(s), e.g. premise,hypothesis (default: guessed)")
    data.add_argument("--label-column", default="label", help="custom tasks: the label column (default: label)")
    data.add_argument("--drop-invalid-rows", action="store_true",
                      help="leave out rows with an empty text cell or a missing or invalid label, counted by reason "
                           "in the record, instead of refusing the file (default: refuse; a malformed file is "
                           "always refused)")
    data.add_argument("--metric", help="the metric runs are selected and ranked on, instead of the task's own (GLUE's; "
                      "a custom task: accuracy for two balanced classes, MCC for two imbalanced ones, macro F1 for "
                      "more); the report shows the others beside it")
    data.add_argument("--max-length", type=cli.positive_int, default=max_length_default,
                      help=f"truncate inputs to this many tokens (default: {max_length_default or 'the preset'})")
    model = parser.add_argument_group("model")
    model.add_argument("--model", default=model_default, help=f"hub id or local directory (default: "
                       f"{model_default or 'the preset'}; {DEFAULT_MODEL} ships with peftbench and works offline)")
    model.add_argument("--pooling", choices=POOLINGS, default=TrainConfig.pooling, help="sentence features for the "
                       "head: mean over tokens, the first ([CLS]) token, or the last real token; auto = last for causal "
                       "decoders (GPT-2, Llama, ...), mean otherwise (default: auto)")
    model.add_argument("--gradient-checkpointing", action="store_true",
                       help="recompute activations in the backward pass: less memory for bigger models, ~30%% more time")
    run = parser.add_argument_group("run")
    run.add_argument("--device", default="auto", help="auto (cuda if present), cpu, cuda, cuda:N (default: auto)")
    run.add_argument("--precision", choices=PRECISIONS, default="auto",
                     help="auto = bf16 (or fp16) autocast on GPU, fp32 on CPU (default: auto)")
    run.add_argument("--memory-cap-mb", type=cli.positive_int, help="fail a run whose process memory passes this (CPU)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")


def strategy_listing() -> str:
    """Every registered strategy: family, summary, default learning rate and hyperparameters with ranges; then the
    groups ``--strategies`` takes, so the names to pick from are the last thing on screen."""
    import textwrap

    from strategies import groups

    lines = [f"{len(STRATEGIES)} strategies by family (the groups --strategies takes are at the end)"]
    for family, meaning in FAMILIES.items():
        members = [cls for cls in STRATEGIES.values() if cls.family == family]
        if not members:
            continue
        lines.append(f"{family}: {meaning}")
        for cls in members:
            lines.append(f"  {cls.name:14} {cls.summary}")
            lines.append(f"  {'':14} {cls.learning_rate.describe()}")
            lines += [f"  {'':14} {h.describe()}" for h in cls.hyperparameters]
    lines.append("groups (--strategies takes a group's name for all its members):")
    width = max(map(len, groups())) + 1
    for group, members in groups().items():
        lines += textwrap.wrap(", ".join(members), 110, initial_indent=f"  {group:{width}} ",
                               subsequent_indent=" " * (width + 3))
    return "\n".join(lines)
