"""docs/methods-matrix.md: every registered strategy on tiny random models of every family the tests build.

    .venv/bin/python -m benchmarks.methods_matrix        # 52 strategies × 16 families (≈ 10 min on 2 CPU cores)

The suite runs every strategy on two families (tests/test_contract.py: BERT in full, GPT-2 for building and
training); the full matrix is too slow for it, so it runs here and its committed table records the result. In each
cell the strategy either refuses the model in one line (``peftbench.errors.UserError``, e.g. a Conv1D layer for a method
peft implements for ``nn.Linear`` only, or no bias for BEFT) or must:

- make something beyond the head trainable (the models' biases are small random numbers, not transformers'
  zeros, so a method that scales a bias can move it) (``frozen`` excepted);
- after two optimiser steps on a real batch from the family's tokenizer, have changed every trainable parameter
  and no frozen one (nor a buffer), with finite weights;
- rebuilt through the strategy with the trained tensors loaded on top (what ``strategies.load_trained`` does),
  predict exactly as the trained model.

Anything else (an exception that is not a one-line refusal, a check that fails) is a failure, listed with its
message. Writes docs/methods-matrix.md and prints a line per failure.
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from benchmarks.run import cpu_model, load_average
from peftbench.layout import write_atomic

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "methods-matrix.md"
SENTENCES = ["a great film", "boring and long, i would not recommend this to anyone", "dull",
             "It's a small film about big feelings."]
LABELS = torch.tensor([0, 1, 0, 1])


def two_steps(strategy, model: torch.nn.Module, inputs: dict[str, torch.Tensor], labels: torch.Tensor) -> None:
    """Two optimiser steps through the strategy's own optimiser and step hook (a factor that starts at zero gives its
    partner a gradient only after one step). The contract test (tests/test_contract.py) steps the same way."""
    model.train()
    optimizer = strategy.make_optimizer(model, 1e-2, 0.01, fused=False)
    for step in (1, 2):
        torch.nn.functional.cross_entropy(model(**inputs), labels).backward()
        optimizer.step()
        strategy.after_optimizer_step(model, step, 10)
        optimizer.zero_grad()


@dataclass
class Cell:
    outcome: str  # "ok", "refused" or "failed"
    message: str = ""


def check_cell(directory: str, name: str) -> Cell:
    """One strategy on one family's tiny model: refused in one line, or trained, changed and reloaded as it must."""
    from peftbench.artifacts import trainable_state
    from peftbench.build import build_model
    from peftbench.config import TrainConfig
    from peftbench.errors import UserError
    from peftbench.models import load_tokenizer
    from strategies import get_strategy

    try:
        strategy = get_strategy(name)
        config = TrainConfig(model=directory, seed=0)
        model = build_model(config, strategy, num_labels=2, total_steps=10)
    except UserError as error:
        message = str(error)
        return Cell("refused", message) if "\n" not in message else Cell("failed", f"refusal on several lines: {message}")
    except Exception as error:  # noqa: BLE001 — a cell that breaks is recorded, and the matrix goes on
        return Cell("failed", f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
    try:
        tokenizer = load_tokenizer(directory)
        inputs = dict(tokenizer(SENTENCES, padding=True, return_tensors="pt"))
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        if not strategy.encoder_frozen and not any(not n.startswith("classifier.") for n in trainable):
            return Cell("failed", "nothing but the head trains")
        before = {n: t.detach().clone() for n, t in [*model.named_parameters(), *model.named_buffers()]}
        two_steps(strategy, model, inputs, LABELS)
        after = {n: t.detach() for n, t in [*model.named_parameters(), *model.named_buffers()]}
        unchanged = sorted(n for n in trainable if torch.equal(before[n], after[n]))
        changed = sorted(n for n in before if n not in trainable and not torch.equal(before[n], after[n]))
        if unchanged or changed:
            return Cell("failed", f"trainable but unchanged: {unchanged[:2]}; frozen but changed: {changed[:2]}")
        if not all(math.isfinite(float(t.abs().max())) for t in after.values() if t.is_floating_point() and t.numel()):
            return Cell("failed", "non-finite weights after two steps")
        model.eval()
        rebuilt = build_model(config, get_strategy(name), num_labels=2, total_steps=10)
        rebuilt.load_state_dict(trainable_state(model), strict=False)
        rebuilt.eval()
        with torch.no_grad():
            if not torch.equal(rebuilt(**inputs), model(**inputs)):
                return Cell("failed", "rebuilt with the trained tensors, it predicts differently")
        return Cell("ok")
    except Exception as error:  # noqa: BLE001
        return Cell("failed", f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")


def short(message: str) -> str:
    """A refusal's reason in a few words, for the table's cell (the full line is listed below it)."""
    for key, text in (("nn.Linear layers only", "Linear only"), ("no bias", "no bias"),
                      ("takes no key/value cache", "no KV cache"), ("shares one set of weights", "shared layers"),
                      ("must divide", "width")):
        if key in message:
            return text
    return "refused"


def render(names: list[str], families: tuple[str, ...], cells: dict[tuple[str, str], Cell], wall: float,
           loads: tuple[str, str]) -> str:
    ok = sum(cell.outcome == "ok" for cell in cells.values())
    refused = sum(cell.outcome == "refused" for cell in cells.values())
    failed = [(key, cell) for key, cell in cells.items() if cell.outcome == "failed"]
    minutes, seconds = divmod(round(wall), 60)
    lines = [
        "# Every strategy on every model family",
        "",
        f"Generated by `python -m benchmarks.methods_matrix` in {minutes} min {seconds:02d} s on {cpu_model()} (load "
        f"average {loads[0]} before, {loads[1]} after). Tiny random models of {len(families)} architectures "
        f"(tests/fixtures/families.py) × {len(names)} strategies: **{ok} cells train** (two steps change exactly "
        f"the trainable parameters; rebuilt with the trained tensors, the model predicts identically), **{refused} "
        f"refuse** in one line, **{len(failed)} fail**.",
        "",
        "✓ trains; a word: refused, and why (the full lines are below the table); **✗**: failed.",
        "",
        "| strategy | " + " | ".join(families) + " |",
        "|---|" + "---|" * len(families),
    ]
    for name in names:
        marks = []
        for family in families:
            cell = cells[name, family]
            marks.append("✓" if cell.outcome == "ok" else "**✗**" if cell.outcome == "failed" else short(cell.message))
        lines.append(f"| {name} | " + " | ".join(marks) + " |")
    lines += ["", "## Refusals", ""] + [f"- {family}: {cell.message}" for (name, family), cell in cells.items()
                                          if cell.outcome == "refused"]
    lines += ["", "## Failures", ""] + ([f"- {name} on {family}: {cell.message}" for (name, family), cell in failed]
                                        or ["None."])
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    from tests.fixtures.families import FAMILIES, build_family, with_random_biases

    from strategies import STRATEGIES, select_strategies

    parser = argparse.ArgumentParser(prog="python -m benchmarks.methods_matrix", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strategies", default="all", help="strategies or groups (default: all)")
    parser.add_argument("--families", default=",".join(FAMILIES), help="families (default: all 16)")
    parser.add_argument("--doc", default=str(DOC), help=f"where to write the table (default: {DOC})")
    args = parser.parse_args(argv)
    names = [cls.name for cls in select_strategies(args.strategies)] if args.strategies != "all" else list(STRATEGIES)
    families = tuple(family for family in args.families.split(",") if family)
    warnings.simplefilter("ignore")
    load_before, started = load_average(), time.perf_counter()
    cells: dict[tuple[str, str], Cell] = {}
    with tempfile.TemporaryDirectory(prefix="peftbench-families-") as root:
        for family in families:
            directory = with_random_biases(build_family(family, Path(root)), Path(root))
            for name in names:
                cells[name, family] = cell = check_cell(directory, name)
                gc.collect()
                if cell.outcome == "failed":
                    print(f"FAILED {name} on {family}: {cell.message}", file=sys.stderr, flush=True)
            print(f"{family}: done", file=sys.stderr, flush=True)
    write_atomic(Path(args.doc), render(names, families, cells, time.perf_counter() - started,
                                        (load_before, load_average())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
