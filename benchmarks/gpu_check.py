"""The GPU check: the speed benchmark on a lent GPU in one call, inside a time budget, from carried files.

    benchmarks/gpu_check.sh --device cuda        # on the GPU machine (the `device` call: benchmarks/NOTES.md)
    .venv/bin/python -m benchmarks.gpu_check     # without a CUDA GPU: the CPU fallback, the same steps made tiny

It needs torch, transformers, peft and accelerate, which the GPU machine has, and the folder that
``benchmarks.pack_gpu_assets`` writes (MiniLM as fp16, SST-2). It needs neither the datasets library nor
Optuna nor bitsandbytes: a local task is read without the datasets library (``peftbench.columns``) and only
full fine-tuning and LoRA run.

On a GPU it runs these steps, most important first, each a ``benchmarks.run`` subprocess (core, Trainer
at its best, Trainer as a tutorial writes it; a large matmul in the run's precision; peak memory; dev
score), each killed at its own cap or when ``--budget-s`` runs out, whichever comes first:

1. MiniLM, bf16, batch 256, all of SST-2, full and LoRA, 2 interleaved repetitions;
2. the same in fp32 (no TF32), 20,000 examples, 3 repetitions;
3. a randomly initialised encoder of bert-base's size (``BertConfig()``: 12 layers, 768 wide, 108.9M
   parameters without the pooler, 85.1M outside the embeddings), bf16, full fine-tuning, 20,000 examples,
   3 repetitions:
   speed and MFU on matrices 4× MiniLM's. Its dev score means nothing and is not judged.

The CPU fallback runs the same steps in fp32 on 48 training and 32 dev examples, with a 2-layer, 128-wide
random encoder for step 3, so the whole path is rehearsed on a machine without a GPU.

Into ``--out`` (default ``$OUT``, else benchmarks/out/gpu-check) go gpu_check.md (verdicts, then every
step's tables), gpu_check.log (every subprocess's output) and one <step>.json per completed step: 5 files,
inside what the device tool brings back. Exit code 0 when every step completed and passed its sanity
check, 1 otherwise, 2 when it cannot start (no GPU where one was asked for, no carried files).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ASSETS = PROJECT_ROOT / "benchmarks" / "gpu_assets"
TASK = "sst2"
MINILM = "minilm"  # Step.encoder for the carried MiniLM
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")
CPU_ENCODER = {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 512}
CPU_SAMPLE = {"train.tsv": 48, "dev.tsv": 32}  # rows of the CPU fallback's stratified SST-2 sample


@dataclass(frozen=True)
class Step:
    name: str  # output file stem
    what: str  # one line for the summary
    encoder: str | dict  # MINILM, or BertConfig arguments of a randomly initialised encoder ({}: bert-base)
    args: tuple[str, ...]  # to benchmarks.run
    cap_s: int  # the most seconds it may take
    judge_accuracy: bool = True  # dev accuracy must beat the majority class


@dataclass
class Outcome:
    step: Step
    status: str  # "complete", "timed out after N s", "failed (exit N)", "skipped: ..."
    seconds: float = 0.0
    report: dict | None = None  # the step's JSON, when it completed
    tables: str = ""  # the step's Markdown, when it completed
    problems: list[str] = field(default_factory=list)


def gpu_plan() -> list[Step]:
    return [
        Step("sst2-gpu-minilm-bf16", "MiniLM, bf16, batch 256, all of SST-2, 2 repetitions", MINILM,
             ("--precision", "bf16", "--batch-size", "256", "--train-size", "0", "--strategies", "full,lora",
              "--reps", "2", "--trainer-steps", "30"), cap_s=170),
        # 3 repetitions, so the median is not the first one: on the H200 the first run of each path paid the
        # CUDA warm-up (new shapes, the caching allocator's first blocks) and ran up to 3.7x slower (NOTES)
        Step("sst2-gpu-minilm-fp32", "MiniLM, fp32 (no TF32), batch 256, 20,000 examples, 3 repetitions", MINILM,
             ("--precision", "fp32", "--batch-size", "256", "--train-size", "20000", "--strategies", "full,lora",
              "--reps", "3"), cap_s=90),
        Step("sst2-gpu-bertbase-bf16", "random-init bert-base size (12 × 768, 109M), bf16, batch 256, 20,000 "
             "examples, 3 repetitions; dev score not judged", {},
             ("--precision", "bf16", "--batch-size", "256", "--train-size", "20000", "--strategies", "full",
              "--reps", "3"), cap_s=100, judge_accuracy=False),
    ]


def cpu_plan() -> list[Step]:
    tiny = ("--precision", "fp32", "--batch-size", "16", "--train-size", "0", "--matmul-size", "512")
    return [
        Step("sst2-cpu-fallback-minilm-fp32", "CPU fallback: MiniLM, fp32, batch 16, 48 examples, 2 repetitions",
             MINILM, (*tiny, "--strategies", "full,lora", "--reps", "2", "--trainer-steps", "2"), cap_s=150,
             judge_accuracy=False),
        Step("sst2-cpu-fallback-random-fp32", "CPU fallback: random-init 2 × 128 encoder, fp32, batch 16, "
             "48 examples, 1 repetition", CPU_ENCODER, (*tiny, "--strategies", "full", "--reps", "1"), cap_s=90,
             judge_accuracy=False),
    ]


def log(message: str) -> None:
    print(f"gpu_check: {message}", file=sys.stderr, flush=True)


def refuse(why: str) -> None:
    log(f"{why}; nothing run")
    raise SystemExit(2)


def check_assets(assets: Path) -> dict:
    """The carried folder's manifest, every file checked against its recorded size and SHA-256."""
    manifest_path = assets / "manifest.json"
    if not manifest_path.is_file():
        refuse(f"no {manifest_path}: run `.venv/bin/python -m benchmarks.pack_gpu_assets` and carry {assets.name}")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for name, expected in manifest["files"].items():
        path = assets / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != expected["sha256"]:
            refuse(f"{path} is missing or differs from the manifest; pack the assets again")
    return manifest


def unpack_minilm(assets: Path, folder: Path) -> Path:
    """The carried fp16 MiniLM as an fp32 model folder (what ``peftbench.models.load_encoder`` loads)."""
    from safetensors.torch import load_file, save_file

    from benchmarks.pack_gpu_assets import MODEL_FILES, MODEL_FOLDER, WEIGHTS_FP16

    source, target = assets / MODEL_FOLDER, folder / MODEL_FOLDER
    target.mkdir(parents=True)
    weights = load_file(source / WEIGHTS_FP16)
    save_file({n: t.float() if t.is_floating_point() else t for n, t in weights.items()}, target / "model.safetensors",
              metadata={"format": "pt"})
    for name in MODEL_FILES:
        shutil.copy(source / name, target / name)
    return target


def random_encoder(overrides: dict, tokenizer_dir: Path, folder: Path) -> Path:
    """A BERT encoder with seeded random weights (``BertConfig`` defaults, i.e. bert-base, with ``overrides``),
    saved beside MiniLM's tokenizer, whose vocabulary is bert-base-uncased's."""
    import torch
    from transformers import BertConfig, BertModel

    target = folder / ("bert-base-random-init" if not overrides else "bert-random-init-" + "-".join(
        f"{value}" for value in overrides.values()))
    torch.manual_seed(0)
    BertModel(BertConfig(**overrides)).save_pretrained(target)
    for name in TOKENIZER_FILES:
        shutil.copy(tokenizer_dir / name, target / name)
    return target


def cpu_sample(assets: Path, folder: Path) -> Path:
    """A stratified SST-2 sample in GLUE layout (``CPU_SAMPLE`` rows per file) for the CPU fallback."""
    from peftbench.splits import stratified_subset
    from peftbench.task_files import read_split
    from peftbench.task_types import GLUE_TASKS, LABEL_COLUMN

    spec = GLUE_TASKS[TASK]
    (folder / TASK).mkdir(parents=True)
    for name, rows in CPU_SAMPLE.items():
        sample = stratified_subset(read_split(spec, assets / TASK / name), rows, 0)
        lines = ["\t".join((*spec.text_columns, LABEL_COLUMN))]
        lines += ["\t".join(str(sample[i][c]) for c in (*spec.text_columns, LABEL_COLUMN)) for i in range(len(sample))]
        (folder / TASK / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def run_step(step: Step, common: list[str], scratch: Path, out: Path, log_file, seconds: float) -> Outcome:
    """One ``benchmarks.run`` subprocess, killed after ``seconds``; its JSON copied to ``out``."""
    command = [sys.executable, "-m", "benchmarks.run", *common, *step.args, "--out", str(scratch), "--name", step.name]
    log_file.write(f"\n===== {step.name}: {' '.join(command)}\n")
    log_file.flush()
    started = time.monotonic()
    try:
        code = subprocess.run(command, cwd=PROJECT_ROOT, stdout=log_file, stderr=subprocess.STDOUT,
                              timeout=seconds).returncode
    except subprocess.TimeoutExpired:
        return Outcome(step, f"timed out after {seconds:.0f} s", time.monotonic() - started)
    elapsed = time.monotonic() - started
    if code != 0:
        return Outcome(step, f"failed (exit {code}; see gpu_check.log)", elapsed)
    shutil.copy(scratch / f"{step.name}.json", out / f"{step.name}.json")
    report = json.loads((scratch / f"{step.name}.json").read_text(encoding="utf-8"))
    tables = (scratch / f"{step.name}.md").read_text(encoding="utf-8")
    return Outcome(step, "complete", elapsed, report, tables)


def majority_share(assets_or_sample: Path) -> float:
    from peftbench.task_files import read_split
    from peftbench.task_types import GLUE_TASKS, LABEL_COLUMN

    labels = read_split(GLUE_TASKS[TASK], assets_or_sample / TASK / "dev.tsv")[LABEL_COLUMN]
    return max(labels.count(value) for value in set(labels)) / len(labels)


def sanity_problems(step: Step, report: dict) -> list[str]:
    """What is wrong with a completed step's numbers: a rate that is not positive, a dev score that is
    not above the majority class (where judged), or a core that disagrees with both Trainers."""
    problems = []
    for row in report["strategies"]:
        for path in ("trainer", "trainer_best", "core"):
            if not row[path]["samples_per_second"][0] > 0:
                problems.append(f"{row['strategy']}: {path} measured no throughput")
        if step.judge_accuracy:
            majority = report["settings"]["majority_share"]
            scores = row["core"]["dev_scores"]
            if not scores or min(scores) <= majority:
                problems.append(f"{row['strategy']}: core dev {scores} not above the majority class ({majority:.4f})")
            if row["agree"] is False:
                problems.append(f"{row['strategy']}: core and Trainer dev scores differ beyond binomial noise")
    return problems


def _rate(values: list[float] | None) -> str:
    return "–" if not values else f"{values[0]:,.0f}"


def headline(outcomes: list[Outcome], environment: dict, seconds: float) -> str:
    """The verdict per step and one row per step and strategy: what gpu_check.md opens with and prints last."""
    lines = ["# GPU check", "", f"{environment['device']}; python {environment['python']}; "
             + ", ".join(f"{k} {v}" for k, v in environment["versions"].items()) + f"; {seconds:.0f} s in all.", "",
             "| step | status | seconds | sanity |", "|---|---|---|---|"]
    for o in outcomes:
        sanity = "–" if o.report is None else ("ok" if not o.problems else "; ".join(o.problems))
        lines.append(f"| {o.step.name}: {o.step.what} | {o.status} | {o.seconds:.0f} | {sanity} |")
    lines += ["", "| step | strategy | core samples/s | Trainer best | Trainer tutorial | core / best | core / tutorial "
              "| core dev | core peak MiB | core GFLOP/s (share of matmul; MFU) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for o in outcomes:
        if o.report is None:
            continue
        flops = o.report["flops"]
        for row in o.report["strategies"]:
            measured = flops["per_strategy"].get(row["strategy"], {}).get("core")
            rate = "–"
            if measured:
                rate = f"{measured['flops_per_second'][0] / 1e9:,.0f} ({measured['share_of_matmul'][0]:.0%}"
                peak = flops["peak_flops_per_second"]
                rate += f"; {measured['flops_per_second'][0] / peak:.1%})" if peak else ")"
            scores = row["core"]["dev_scores"]
            lines.append(
                f"| {o.step.name} | {row['strategy']} | {_rate(row['core']['samples_per_second'])} "
                f"| {_rate(row['trainer_best']['samples_per_second'])} | {_rate(row['trainer']['samples_per_second'])} "
                f"| {row['speedup'][0]:.2f}× | {row['speedup_tutorial'][0]:.2f}× "
                f"| {'–' if not scores else f'{min(scores):.4f}'} | {row['core']['peak_memory_mib'][0]:,.0f} | {rate} |")
    return "\n".join(lines) + "\n"


def step_tables(outcomes: list[Outcome]) -> str:
    """Each completed step's own tables (benchmarks.run's Markdown), their headings two levels down."""
    lines = []
    for o in outcomes:
        if o.report is not None:
            lines += ["", f"## {o.step.name}", ""]
            lines += [f"##{line}" if line.startswith("#") else line for line in o.tables.splitlines()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto",
                        help="cuda: refuse (exit 2) without a CUDA GPU; auto: the GPU plan if there is one, else "
                             "the CPU fallback")
    parser.add_argument("--assets", type=Path, default=DEFAULT_ASSETS, help="the folder pack_gpu_assets wrote")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or PROJECT_ROOT / "benchmarks" / "out"
                                                         / "gpu-check"))
    parser.add_argument("--budget-s", type=float, default=360.0, help="seconds for all steps together")
    parser.add_argument("--steps", default=None, help="comma-separated step names to run (default: the whole plan)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        import accelerate  # noqa: F401  (the Trainer needs it)
        import peft  # noqa: F401
        import torch
        import transformers  # noqa: F401
    except ImportError as error:
        refuse(f"cannot import the libraries the check needs ({error})")
    from peftbench.costs import versions

    use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        refuse(f"no CUDA GPU visible to torch {torch.__version__} (CUDA build: {torch.version.cuda or 'none'})")
    if use_cuda and not torch.cuda.is_bf16_supported():
        refuse(f"{torch.cuda.get_device_name(0)} has no bf16")
    manifest = check_assets(args.assets)
    plan = gpu_plan() if use_cuda else cpu_plan()
    if args.steps:
        chosen = args.steps.split(",")
        unknown = sorted(set(chosen) - {step.name for step in plan})
        if unknown:
            refuse(f"no step {', '.join(unknown)} in this plan ({', '.join(step.name for step in plan)})")
        plan = [step for step in plan if step.name in chosen]
    environment = {"device": f"cuda: {torch.cuda.get_device_name(0)}" if use_cuda else "cpu (the CPU fallback)",
                   "python": sys.version.split()[0],
                   "versions": {k: v for k, v in versions().items() if k != "python"}}
    log(f"{environment['device']}; {len(plan)} steps in at most {args.budget_s:.0f} s; carried "
        f"{manifest['total_mib']:.1f} MiB")
    args.out.mkdir(parents=True, exist_ok=True)
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as temporary, \
            (args.out / "gpu_check.log").open("w", encoding="utf-8") as log_file:
        scratch = Path(temporary)
        minilm = unpack_minilm(args.assets, scratch / "models")
        data_dir = args.assets if use_cuda else cpu_sample(args.assets, scratch / "data")
        majority = majority_share(data_dir)
        for step in plan:
            left = args.budget_s - (time.monotonic() - started)
            if left < 20:
                outcomes.append(Outcome(step, f"skipped: {left:.0f} s of the budget left"))
                log(f"{step.name}: {outcomes[-1].status}")
                continue
            model = minilm if step.encoder == MINILM else random_encoder(step.encoder, minilm, scratch / "models")
            common = ["--task", TASK, "--data-dir", str(data_dir), "--model", str(model),
                      "--device", "cuda" if use_cuda else "cpu"]
            log(f"{step.name}: {step.what} (at most {min(step.cap_s, left):.0f} s)")
            outcome = run_step(step, common, scratch, args.out, log_file, min(step.cap_s, left))
            if outcome.report is not None:
                outcome.report["settings"]["majority_share"] = majority
                outcome.problems = sanity_problems(step, outcome.report)
            outcomes.append(outcome)
            log(f"{step.name}: {outcome.status} in {outcome.seconds:.0f} s"
                + (f"; problems: {'; '.join(outcome.problems)}" if outcome.problems else ""))
    verdicts, tables = headline(outcomes, environment, time.monotonic() - started), step_tables(outcomes)
    (args.out / "gpu_check.md").write_text(verdicts + tables, encoding="utf-8")
    print(tables + "\n" + verdicts)  # the verdicts last: the device tool returns the output's tail
    passed = all(o.status == "complete" and not o.problems for o in outcomes)
    log(f"{'passed' if passed else 'NOT passed'}; wrote {args.out}/gpu_check.md, gpu_check.log and "
        f"{sum(o.report is not None for o in outcomes)} step JSON files")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
