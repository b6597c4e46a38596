"""Run the benchmark: every strategy through transformers.Trainer as a tutorial writes it (A), through
the Trainer at its best (A*: dynamic padding, length grouping, fused AdamW) and through the core (B),
interleaved in one process, and write benchmarks/results/<name>.{json,md}.

    .venv/bin/python -m benchmarks.run                      # the CPU benchmark (≈ 20–25 min on 2 cores, predicted)
    .venv/bin/python -m benchmarks.run --strategies full,lora --reps 2 --train-size 500 --out /tmp/bench

Repetition 1 runs every path to the end (throughput, memory, wall time and the dev score); later
repetitions time ``--trainer-steps`` steps of A (a padded step costs the same whatever the batch, so a
few steps give its rate) against complete runs of A* and B (their steps vary with the batch's length).
The order alternates (A A* B, B A* A, …) so a drift in machine load does not favour either end.
"""

from __future__ import annotations

import argparse
import gc
import contextlib
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

import torch

from benchmarks.hf_trainer import run_trainer
from benchmarks.measure import (CORE, CORE_COLD, CORE_NO_CACHE, RunMeasurement, matmul_flops_per_second,
                                non_embedding_parameters)
from benchmarks.summary import (BenchmarkReport, summarise_flops, summarise_frozen_cache,
                                summarise_strategy, write)
from peftbench.cli import quiet_libraries
from peftbench.config import TrainConfig
from peftbench.costs import device_description, release_freed_memory, versions
from peftbench.errors import UserError
from peftbench.features import CACHE_ENV
from peftbench.classifier import SequenceClassifier
from peftbench.models import DEFAULT_MODEL, load_encoder
from peftbench.task_types import TaskData
from peftbench.tasks import TaskRequest, load_task
from peftbench.train import resolve_device, resolve_precision, train
from strategies import DEFAULT_GROUP, STRATEGIES, get_strategy, select_strategies

OUT_DIR = Path(__file__).resolve().parent / "results"
# Dense bf16 tensor-core peaks from the vendors' datasheets (FLOP/s), matched against the device name
# in this order (more specific names first).
BF16_PEAKS = (("H200", 989e12), ("H100 PCIe", 756e12), ("H100", 989e12), ("A100", 312e12), ("L40S", 362e12),
              ("L4", 121e12), ("A10", 125e12))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="sst2")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--strategies", default=DEFAULT_GROUP,
                        help=f"comma-separated strategies and groups (default: {DEFAULT_GROUP}, the seven classic ones)")
    parser.add_argument("--train-size", type=int, default=2000, help="training examples; 0 = the whole training set")
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions (the first complete)")
    parser.add_argument("--trainer-steps", type=int, default=10, help="Trainer steps timed in later repetitions")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=64,
                        help="every path truncates to this and the tutorial Trainer pads every row to it; 64 is above "
                             "SST-2's longest row (56 train, 60 dev tokens), so nothing is cut, and half a tutorial's 128")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", help="auto: fp32 on CPU, bf16 on a GPU that has it")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's, one per core)")
    parser.add_argument("--matmul-size", type=int, default=None, help="the yardstick matmul's side (4096 CPU, 8192 GPU)")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--name", default=None, help="output file stem (default: <task>-<device>)")
    args = parser.parse_args(argv)
    try:
        args.strategies = [cls.name for cls in select_strategies(args.strategies)]
    except UserError as error:
        parser.error(str(error))
    if args.reps < 1 or args.trainer_steps < 2:
        parser.error("--reps must be ≥1 and --trainer-steps ≥2")
    return args


def run_core(config: TrainConfig, strategy: str, data: TaskData, repetition: int, path: str = CORE) -> RunMeasurement:
    """One complete run through ``peftbench.train.train``."""
    started = time.perf_counter()
    result = train(config, get_strategy(strategy), data=data)
    return RunMeasurement(
        path=path, strategy=strategy, repetition=repetition, samples=result.train_samples_seen,
        tokens=result.train_tokens_seen, train_seconds=result.train_seconds,
        wall_seconds=time.perf_counter() - started, peak_memory_bytes=result.peak_memory_bytes,
        memory_kind=result.memory_kind, metric=result.primary_metric, dev_score=result.score("dev"),
    )


@contextlib.contextmanager
def fresh_feature_cache() -> Iterator[None]:
    """An empty feature cache for this invocation, so its first frozen trial really computes features."""
    from peftbench import features

    previous = os.environ.get(CACHE_ENV)
    with tempfile.TemporaryDirectory() as folder:
        os.environ[CACHE_ENV] = folder
        features._MEMORY.clear()
        try:
            yield
        finally:
            features._MEMORY.clear()
            if previous is None:
                os.environ.pop(CACHE_ENV, None)
            else:
                os.environ[CACHE_ENV] = previous


def matmul_yardstick(device: torch.device, precision: str, size: int | None) -> tuple[Callable[[], float], str, float | None]:
    """How to time this machine's matmul ceiling for the run's precision, its label, and the datasheet peak."""
    if device.type == "cuda":
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
        name = torch.cuda.get_device_name(device)
        peak = next((flops for key, flops in BF16_PEAKS if key in name), None) if dtype == torch.bfloat16 else None
        size = size or 8192
        return lambda: matmul_flops_per_second(device, dtype, size, 50), f"{str(dtype).removeprefix('torch.')} {size}² matmul", peak
    size = size or 4096
    return lambda: matmul_flops_per_second(device, torch.float32, size, 3), f"fp32 {size}² matmul", None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> BenchmarkReport:
    args = parse_args(argv)
    started = time.perf_counter()
    quiet_libraries()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    precision = resolve_precision(args.precision, device)
    data = load_task(TaskRequest(args.task, args.data_dir, train_size=args.train_size or None, seed=args.seed))
    base = TrainConfig(task=args.task, model=args.model, data_dir=args.data_dir, train_size=args.train_size or None,
                       batch_size=args.batch_size, epochs=args.epochs, max_length=args.max_length, seed=args.seed,
                       device=str(device), precision=precision, progress=False)
    non_embedding = non_embedding_parameters(SequenceClassifier(load_encoder(args.model), data.spec.num_labels))
    time_matmul, matmul_label, peak = matmul_yardstick(device, precision, args.matmul_size)
    environment = {"device": f"cpu: {cpu_model()}" if device.type == "cpu" else device_description(device),
                   "threads": torch.get_num_threads(),
                   "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"), "matmul": matmul_label,
                   "load_before": load_average(), "versions": versions()}

    runs: list[RunMeasurement] = []
    matmul: list[float] = []

    def record(measurement: RunMeasurement, repetition: int) -> None:
        runs.append(measurement)
        release_freed_memory()
        log(f"[{repetition + 1}/{args.reps}] {measurement.strategy:8s} {measurement.path:13s} "
            f"{measurement.samples_per_second:7.1f} samples/s  wall {measurement.wall_seconds:6.1f} s  "
            f"dev {measurement.dev_score if measurement.dev_score is not None else '–'}")

    cached = next((s for s in args.strategies if STRATEGIES[s].encoder_frozen), None)  # its features are cached
    with fresh_feature_cache():
        if cached is not None:
            record(run_core(base, cached, data, 0, CORE_COLD), 0)
        for repetition in range(args.reps):
            matmul.append(time_matmul())
            log(f"[{repetition + 1}/{args.reps}] {matmul_label}: {matmul[-1] / 1e9:.0f} GFLOP/s")
            steps = None if repetition == 0 else args.trainer_steps
            for strategy in args.strategies:
                paths = [lambda: run_trainer(base, strategy, data, repetition, steps),
                         lambda: run_trainer(base, strategy, data, repetition, best=True),
                         lambda: run_core(base, strategy, data, repetition)]
                for run in paths if repetition % 2 == 0 else reversed(paths):
                    record(run(), repetition)
                if strategy == cached:
                    record(run_core(replace(base, cache_features=False), strategy, data, repetition, CORE_NO_CACHE),
                           repetition)

    environment.update(load_after=load_average(), memory_kind=runs[-1].memory_kind)
    settings = {**{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                "model_name": Path(args.model).name, "train_size": len(data.train), "dev_size": len(data.dev),
                "repetitions": args.reps, "precision": precision, "device": str(device), "metric": data.spec.metric}
    report = BenchmarkReport(
        settings=settings, environment=environment,
        strategies=[summarise_strategy(s, runs, len(data.dev)) for s in args.strategies],
        frozen_cache=summarise_frozen_cache(runs), flops=summarise_flops(runs, non_embedding, matmul, peak),
        runs=runs, seconds=time.perf_counter() - started,
    )
    name = args.name or f"{args.task}-{device.type}"
    json_path, md_path = write(report, args.out, name)
    print(md_path.read_text(encoding="utf-8"))
    log(f"wrote {json_path} and {md_path}")
    return report


if __name__ == "__main__":
    gc.freeze()  # as peftbench.cli.run_main: the imports' objects are not rescanned by every gc.collect()
    main()
