"""What each of the core's step-level speed-ups gives on its own: training steps of one strategy timed
under cumulative variants, interleaved, in one process, on the same model and data.

    .venv/bin/python -m benchmarks.ablation                 # full fine-tune, SST-2, 2,000 examples (≈3 min)
    .venv/bin/python -m benchmarks.ablation --strategy lora --batches 8

Variants, each adding one change to the one before:
  padded-to-max   random batches padded to --max-length, torch's default AdamW (a tutorial's loop)
  dynamic-pad     random batches padded to their own longest row
  length-grouped  batches of similar lengths (peftbench.data.length_grouped_batches)
  fused-adamw     AdamW(fused=True): the core's step
  compiled        (with --compile) the same, through torch.compile(dynamic=True); its one-off compile time
                  is reported apart from the timed batches
Writes benchmarks/results/ablation-<task>-<device>.{json,md}; benchmarks/NOTES.md reads them.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from benchmarks.measure import spread
from benchmarks.run import OUT_DIR, cpu_model, load_average
from peftbench.cli import quiet_libraries
from peftbench.config import TrainConfig
from peftbench.costs import versions
from peftbench.data import EncodedSplit, collate, encode_split, length_grouped_batches
from peftbench.models import DEFAULT_MODEL, load_tokenizer
from peftbench.tasks import TaskRequest, load_task
from peftbench.build import build_model
from peftbench.train import loss_function, resolve_device
from strategies import STRATEGIES, get_strategy
from peftbench.layout import write_atomic

VARIANTS = ("padded-to-max", "dynamic-pad", "length-grouped", "fused-adamw")


@dataclass
class VariantResult:
    name: str
    samples_per_second: list[float]  # one per repetition, in run order
    real_tokens_per_sample: float
    computed_tokens_per_sample: float  # what the model actually runs over, padding included

    @property
    def median(self) -> float:
        return statistics.median(self.samples_per_second)


def pad_to(inputs: dict[str, torch.Tensor], width: int, pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a dynamically padded batch to a fixed width, as a max-length collator would."""
    extra = width - inputs["input_ids"].shape[1]
    fill = {"input_ids": pad_id, "attention_mask": 0, "token_type_ids": 0}
    return {k: torch.nn.functional.pad(v, (0, extra), value=fill[k]) for k, v in inputs.items()}


def variant_batches(variant: str, split: EncodedSplit, batch_size: int, count: int, seed: int) -> list[list[int]]:
    """``count`` batches as the variant would draw them in an epoch."""
    if variant in ("padded-to-max", "dynamic-pad"):
        order = list(range(len(split)))
        random.Random(seed).shuffle(order)
        batches = [order[i:i + batch_size] for i in range(0, len(order) - batch_size + 1, batch_size)]
    else:
        batches = [b for b in length_grouped_batches(split.lengths(), batch_size, seed) if len(b) == batch_size]
    return batches[:count]


def time_variant(variant: str, model, forward, strategy, split: EncodedSplit, batches: list[list[int]],
                 max_length: int, pad_id: int, device: torch.device) -> float:
    """Samples/second over ``batches`` of forward (through ``forward``: the model, or it compiled),
    backward, clipping and an optimizer step of ``model``'s parameters."""
    fused = {"fused": True} if variant in ("fused-adamw", "compiled") else {}
    optimizer = torch.optim.AdamW(strategy.param_groups(model, 1e-5, 0.01), lr=1e-5, **fused)
    trained = [p for group in optimizer.param_groups for p in group["params"]]
    model.train()
    started = time.perf_counter()
    for indices in batches:
        inputs, labels = collate(split, indices, pad_id)
        if variant == "padded-to-max":
            inputs = pad_to(inputs, max_length, pad_id)
        inputs = {k: v.to(device) for k, v in inputs.items()}
        loss = loss_function(forward(**inputs), labels.to(device))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return sum(map(len, batches)) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> list[VariantResult]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ablation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="sst2")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--strategy", default="full", choices=list(STRATEGIES))
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=16, help="batches timed per variant and repetition")
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions (order rotates each time)")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--compile", action="store_true", help="add a torch.compile variant (compiles first)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    quiet_libraries()
    started = time.perf_counter()
    device = resolve_device(args.device)
    config = TrainConfig(task=args.task, model=args.model, data_dir=args.data_dir,
                         train_size=args.train_size, device=str(device), progress=False)
    data = load_task(TaskRequest(args.task, args.data_dir, train_size=args.train_size, seed=0))
    tokenizer = load_tokenizer(args.model)
    split = encode_split(data.train, data.spec, tokenizer, args.max_length)
    strategy = get_strategy(args.strategy)
    model = build_model(config, strategy, data.spec.num_labels, args.batches).to(device)
    load_before = load_average()

    lengths = split.lengths()
    drawn = {v: variant_batches(v, split, args.batch_size, args.batches, seed=0) for v in VARIANTS}
    variants = VARIANTS + (("compiled",) if args.compile else ())
    models = {v: model for v in VARIANTS}
    compile_seconds = None
    if args.compile:
        drawn["compiled"] = drawn["fused-adamw"]
        models["compiled"] = torch.compile(model, dynamic=True)
        started_compile = time.perf_counter()
        time_variant("compiled", model, models["compiled"], strategy, split, drawn["compiled"], args.max_length,
                     tokenizer.pad_token_id, device)  # compiles for the shapes these batches have
        compile_seconds = time.perf_counter() - started_compile
    time_variant(VARIANTS[-1], model, model, strategy, split, drawn[VARIANTS[-1]][:2], args.max_length,
                 tokenizer.pad_token_id, device)  # warm-up: thread pools, allocator
    rates: dict[str, list[float]] = {v: [] for v in variants}
    for repetition in range(args.reps):
        order = variants[repetition % len(variants):] + variants[:repetition % len(variants)]
        for variant in order:
            rate = time_variant(variant, model, models[variant], strategy, split, drawn[variant], args.max_length,
                                tokenizer.pad_token_id, device)
            rates[variant].append(rate)
            print(f"[{repetition + 1}/{args.reps}] {variant:15s} {rate:6.1f} samples/s", flush=True)

    results = []
    for variant in variants:
        batches = drawn[variant]
        samples = sum(map(len, batches))
        real = sum(lengths[i] for b in batches for i in b) / samples
        computed = args.max_length if variant == "padded-to-max" else sum(
            len(b) * max(lengths[i] for i in b) for b in batches) / samples
        results.append(VariantResult(variant, rates[variant], real, computed))
    environment = {"device": f"cpu: {cpu_model()}" if device.type == "cpu" else str(device),
                   "threads": torch.get_num_threads(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"),
                   "load_before": load_before, "load_after": load_average(), "versions": versions(),
                   "compile_seconds": compile_seconds, "seconds": time.perf_counter() - started}
    write(results, vars(args), environment, args.out, f"ablation-{args.task}-{device.type}")
    return results


def markdown(results: list[VariantResult], settings: dict, environment: dict) -> str:
    first = results[0].median
    lines = [f"# Step-level ablation — {settings['strategy']} on {settings['task']}, "
             f"{settings['train_size']} examples, batch {settings['batch_size']}",
             "",
             f"{environment['device']}; {environment['threads']} threads; OMP_WAIT_POLICY="
             f"{environment['omp_wait_policy']}; {settings['batches']} batches per variant, {settings['reps']} "
             f"interleaved repetitions; load average {environment['load_before']} before, "
             f"{environment['load_after']} after; {environment['seconds'] / 60:.1f} min.",
             "",
             "Each row adds one change to the row above. samples/s: median (min–max) over repetitions.",
             "",
             "| variant | tokens computed per sample (real) | samples/s | vs row above | vs first row |",
             "|---|---|---|---|---|"]
    previous = None
    for result in results:
        median, low, high = spread(result.samples_per_second)
        step = f"{median / previous:.2f}×" if previous else "–"
        lines.append(f"| {result.name} | {result.computed_tokens_per_sample:.1f} ({result.real_tokens_per_sample:.1f}) "
                     f"| {median:.1f} ({low:.1f}–{high:.1f}) | {step} | {median / first:.2f}× |")
        previous = median
    if environment.get("compile_seconds") is not None:
        lines += ["", f"torch.compile: {environment['compile_seconds']:.1f} s to compile and run the first "
                      f"{settings['batches']} batches, before the timed repetitions."]
    return "\n".join(lines) + "\n"


def write(results: list[VariantResult], settings: dict, environment: dict, out: Path, name: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in settings.items()}
    payload = {"settings": settings, "environment": environment, "variants": [asdict(r) for r in results]}
    write_atomic(out / f"{name}.json", json.dumps(payload, indent=2) + "\n")
    write_atomic(out / f"{name}.md", markdown(results, settings, environment))
    print(markdown(results, settings, environment))


if __name__ == "__main__":
    gc.freeze()  # as peftbench.cli.run_main: the imports' objects are not rescanned by every gc.collect()
    main()
