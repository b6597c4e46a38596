"""Export a comparison's trained model for use without peftbench:
``python -m runners.export RUN_DIR --strategy lora [--seed N] --out DIR [--merge]``.

The chosen strategy's seed run (default: the seed run with the best dev score — the split the comparison
selects on; the held-out split stays an unbiased estimate of the exported model) is rebuilt from
RUN_DIR/models/<strategy>/seed-<n>/ and written to DIR as:

- without --merge: for a peft-based strategy, ``adapter/`` (the standard peft adapter folder, which
  ``PeftModel.from_pretrained(AutoModel.from_pretrained(base), DIR/adapter)`` loads); otherwise
  ``trained.safetensors`` + ``train_config.json`` (the trainable tensors, ``strategies.load_trained(DIR)``);
- with --merge: ``model/``, the encoder with any peft adapter merged in (``merge_and_unload``), a plain
  folder that ``transformers.AutoModel.from_pretrained`` loads; for a decoder whose head pools the last
  token (the pooling transformers' ``*ForSequenceClassification`` uses) also ``sequence-classification/``,
  which ``AutoModelForSequenceClassification.from_pretrained`` loads. Strategies that add modules outside
  peft (bottleneck adapters, prompts) and quantised encoders are refused;

and, always, ``head.safetensors`` + ``head.json`` (our pooling + linear head), the tokenizer, and a
README.md with the code that predicts with them. Before DIR is written, the export is checked: the files
give the same predictions as peftbench's model on a set of probe inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from peftbench import cli
from studies.export import PROBES, export


def build_parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(prog="python -m runners.export", description=__doc__)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="comparison directory holding results.json and models/")
    parser.add_argument("--strategy", required=True, help="the strategy whose trained model to export")
    parser.add_argument("--seed", type=cli.non_negative_int,
                        help="which seed run (default: the seed run with the best dev score; ties: the lowest seed)")
    parser.add_argument("--out", required=True, help="output directory (new, or empty)")
    parser.add_argument("--merge", action="store_true",
                        help="merge the adapter into the encoder and write a plain transformers model folder")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    summary = export(Path(args.run_dir), args.strategy, args.seed, Path(args.out), args.merge)
    print(f"exported {summary['strategy']} seed {summary['seed']} ({summary['why']}) from {summary['from']} "
          f"→ {summary['out']}")
    for name, what in summary["files"]:
        print(f"  {name:32} {what}")
    for note in summary["notes"]:
        print(f"  note: {note}")
    checked = ", ".join(f"{name} {gap:.1e}" for name, gap in summary["gaps"].items())
    if checked:
        print(f"checked: the same predictions as peftbench's model on {len(PROBES)} probe inputs (max |Δlogit|: {checked})")
    print(f"\nuse it ({summary['out']}/README.md has this too):\n")
    print((summary["out"] / "README.md").read_text(encoding="utf-8").split("Predict:\n", 1)[-1].strip())
    return 0


if __name__ == "__main__":
    cli.run_main(main)
