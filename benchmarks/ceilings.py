"""Two ceilings on how fast training MiniLM can be on these CPU cores, measured, not assumed.

    .venv/bin/python -m benchmarks.ceilings            # ≈ 3 min on 2 cores, nothing else running

1. The matmul ceiling of *this* model's step. NOTES.md judges training FLOP/s against a 4096² fp32 matmul,
   but a training step of MiniLM (hidden 384, feed-forward 1536) at batch 32 multiplies matrices of
   ≈ 32 × 15 tokens by 384-wide weights. Timing exactly those products (forward, and the two products of
   each in the backward pass), alone and back to back, says what share of the 4096² rate the step's own
   matmul shapes can reach; no training loop can beat it.
2. Threads. Two training runs (full fine-tuning, the quick preset's batch) done by one process with two
   threads, one after the other, against two processes with one thread each, side by side: is there
   more throughput in two single-threaded workers than in one two-threaded one at this model size?

Writes benchmarks/results/ceilings-cpu.{json,md}; benchmarks/NOTES.md reads them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from benchmarks.measure import matmul_flops_per_second
from benchmarks.run import OUT_DIR, cpu_model, load_average
from peftbench.layout import write_atomic

HIDDEN, FFN, LAYERS = 384, 1536, 6  # all-MiniLM-L6-v2


def step_shapes(tokens: int) -> list[tuple[int, int, int]]:
    """(m, k, n) of every matmul one training step of the encoder runs for ``tokens`` tokens: per layer the
    q, k, v and output projections and the two feed-forward products, each forward (x·Wᵀ), then backward
    for the input gradient (g·W) and the weight gradient (gᵀ·x)."""
    shapes = []
    for d_in, d_out in [(HIDDEN, HIDDEN)] * 4 + [(HIDDEN, FFN), (FFN, HIDDEN)]:
        shapes += [(tokens, d_in, d_out), (tokens, d_out, d_in), (d_out, tokens, d_in)]
    return shapes * LAYERS


def shapes_flops_per_second(tokens: int, repeats: int) -> float:
    operands = [(torch.randn(m, k), torch.randn(k, n)) for m, k, n in step_shapes(tokens)]
    for a, b in operands:  # warm-up: oneDNN picks its kernels per shape
        a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        for a, b in operands:
            a @ b
    seconds = time.perf_counter() - started
    return sum(2.0 * m * k * n for m, k, n in step_shapes(tokens)) * repeats / seconds


def child_train(examples: int) -> None:
    """One full fine-tuning run (the reference strategy, as it declares) on ``examples`` SST-2 rows, no evaluation;
    prints its training seconds."""
    from peftbench.config import TrainConfig
    from peftbench.train import train
    from strategies import STRATEGIES, get_strategy

    config = TrainConfig(task="sst2", train_size=examples, carve_size=500, max_length=64, batch_size=32,
                         progress=False, device="cpu", max_steps=examples // 32)
    reference = next(name for name, declared in STRATEGIES.items() if declared.reference)
    result = train(config, get_strategy(reference))
    print(json.dumps({"train_seconds": result.train_seconds, "threads": torch.get_num_threads()}))


def training_seconds(threads: int, processes: int, examples: int) -> list[float]:
    """The training seconds of ``processes`` runs started together, each with ``threads`` threads."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "benchmarks.ceilings", "--child", str(examples)]
    children = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    outputs = [child.communicate()[0] for child in children]
    if any(child.returncode for child in children):
        raise SystemExit("a benchmark child failed")
    return [json.loads(out.strip().splitlines()[-1])["train_seconds"] for out in outputs]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ceilings", description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=1024, help="training examples per run in the thread test")
    parser.add_argument("--reps", type=int, default=2, help="interleaved repetitions")
    parser.add_argument("--tokens", type=int, default=32 * 15, help="tokens per step (batch 32 × ≈ 15 computed)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    if args.child:
        child_train(args.child)
        return {}
    load_before = load_average()
    big, own = [], []
    serial, parallel = [], []
    for _ in range(args.reps):
        big.append(matmul_flops_per_second(torch.device("cpu"), torch.float32, 4096, 8))
        own.append(shapes_flops_per_second(args.tokens, 20))
        # two runs one after the other with two threads each, against the same two side by side with one each
        serial.append(sum(training_seconds(torch.get_num_threads(), 1, args.examples)[0] for _ in range(2)))
        parallel.append(max(training_seconds(1, 2, args.examples)))
    result = {
        "cpu": cpu_model(), "threads": torch.get_num_threads(), "load_before": load_before,
        "load_after": load_average(), "tokens_per_step": args.tokens, "examples_per_run": args.examples,
        "matmul_4096_gflops": [x / 1e9 for x in big], "step_shapes_gflops": [x / 1e9 for x in own],
        "step_shape_share": statistics.median(own) / statistics.median(big),
        "serial_two_threads_seconds": serial, "parallel_two_processes_seconds": parallel,
        "parallel_speedup": statistics.median(serial) / statistics.median(parallel),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / "ceilings-cpu.json", json.dumps(result, indent=2) + "\n")
    write_atomic(args.out / "ceilings-cpu.md", render(result))
    print(render(result))
    return result


def render(result: dict) -> str:
    med = statistics.median
    return "\n".join([
        f"# Ceilings on {result['cpu']} ({result['threads']} threads; load {result['load_before']} before, "
        f"{result['load_after']} after)", "",
        "| measurement | median | runs |", "|---|---|---|",
        f"| fp32 matmul 4096² | {med(result['matmul_4096_gflops']):.0f} GFLOP/s | "
        + ", ".join(f"{x:.0f}" for x in result["matmul_4096_gflops"]) + " |",
        f"| the step's own matmul shapes ({result['tokens_per_step']} tokens), back to back | "
        f"{med(result['step_shapes_gflops']):.0f} GFLOP/s ({result['step_shape_share']:.0%} of 4096²) | "
        + ", ".join(f"{x:.0f}" for x in result["step_shapes_gflops"]) + " |",
        f"| 2 full fine-tuning runs ({result['examples_per_run']} examples each): 1 process × 2 threads, in turn | "
        f"{med(result['serial_two_threads_seconds']):.1f} s | "
        + ", ".join(f"{x:.1f}" for x in result["serial_two_threads_seconds"]) + " |",
        f"| the same 2 runs: 2 processes × 1 thread, side by side | {med(result['parallel_two_processes_seconds']):.1f} s "
        f"({result['parallel_speedup']:.2f}× the throughput) | "
        + ", ".join(f"{x:.1f}" for x in result["parallel_two_processes_seconds"]) + " |", ""])


if __name__ == "__main__":
    main()
