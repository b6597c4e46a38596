"""Where a core training step's time goes on a GPU: kernels launched against time the GPU computes.

    python -m benchmarks.step_profile --device cuda            # MiniLM and a bert-base-sized random encoder, bf16
    python -m benchmarks.step_profile --device cpu --steps 2   # the same path on the CPU (no GPU kernels to count)

From the folder ``benchmarks.pack_gpu_assets`` writes (as the GPU check). For each encoder: one core run
over ``--warmup`` SST-2 examples (every batch length met once, the caching allocator filled), then ``--steps``
steps under ``torch.profiler``: wall time per step against the GPU kernels launched per step and the summed
time they ran. A step whose wall time is many times its kernel time, with hundreds of kernels, waits on
launching them, not on arithmetic: the claim of benchmarks/NOTES.md ("Measured on an H200") this measures.
Writes ``step_profile.md`` and ``step_profile.json`` into ``--out`` (default ``$OUT``, else benchmarks/out).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

from benchmarks.gpu_check import DEFAULT_ASSETS, MINILM, TASK, check_assets, random_encoder, unpack_minilm
from peftbench.tasks import TaskRequest, load_task
from peftbench.config import TrainConfig
from peftbench.train import resolve_device, resolve_precision, train
from strategies import get_strategy

ENCODERS = (MINILM, "bert-base")  # bert-base: BertConfig's defaults, seeded random weights


@dataclass
class StepProfile:
    encoder: str
    strategy: str
    precision: str
    batch_size: int
    steps: int
    wall_ms_per_step: float  # the training loop's time per step (peftbench.train's train_seconds)
    kernels_per_step: float  # GPU kernels and copies per step (building the model and one 32-row evaluation included)
    kernel_ms_per_step: float  # their summed run time per step
    busy_share: float  # kernel time / wall time


def profile_run(config: TrainConfig, strategy: str, data, steps: int) -> tuple[float, int, float]:
    """(train seconds, GPU kernels, summed kernel seconds) of ``steps`` steps: timed without the profiler,
    whose instrumentation slows the host side, then counted with it."""
    short = replace(config, max_steps=steps)
    seconds = train(short, get_strategy(strategy), data=data).train_seconds
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if config.device.startswith("cuda") else [])
    with profile(activities=activities) as profiler:
        train(short, get_strategy(strategy), data=data)
    kernels = [event for event in profiler.events() if event.device_type == DeviceType.CUDA]
    return seconds, len(kernels), sum(event.device_time for event in kernels) / 1e6


def main(argv: list[str] | None = None) -> list[StepProfile]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", help="auto: bf16 on a GPU that has it, fp32 on the CPU")
    parser.add_argument("--assets", type=Path, default=DEFAULT_ASSETS)
    parser.add_argument("--encoders", default=",".join(ENCODERS), help=f"from {', '.join(ENCODERS)}")
    parser.add_argument("--strategies", default="full,lora")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--warmup", type=int, default=20_000, help="training examples of the unprofiled first run")
    parser.add_argument("--steps", type=int, default=30, help="profiled steps")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or "benchmarks/out"))
    args = parser.parse_args(argv)
    encoders = args.encoders.split(",")
    unknown = [name for name in encoders if name not in ENCODERS]
    if unknown:  # anything else would silently profile a random bert-base under the unknown name
        parser.error(f"--encoders: unknown {', '.join(unknown)}; choose from {', '.join(ENCODERS)}")
    check_assets(args.assets)
    device = resolve_device(args.device)
    precision = resolve_precision(args.precision, device)
    scratch = Path(tempfile.mkdtemp(prefix="step-profile-"))
    minilm = unpack_minilm(args.assets, scratch)
    data = load_task(TaskRequest(TASK, str(args.assets), train_size=args.warmup, seed=0))
    data = replace(data, dev=data.dev.select(range(32)), test=None)  # the steps are measured, not the score
    profiles = []
    for encoder in encoders:
        model = minilm if encoder == MINILM else random_encoder({}, minilm, scratch)
        for strategy in args.strategies.split(","):
            config = TrainConfig(task=TASK, model=str(model), data_dir=str(args.assets), batch_size=args.batch_size,
                                 epochs=1, device=str(device), precision=precision, progress=False)
            train(config, get_strategy(strategy), data=data)  # warm-up: every length once
            seconds, kernels, kernel_seconds = profile_run(config, strategy, data, args.steps)
            profiles.append(StepProfile(encoder, strategy, precision, args.batch_size, args.steps,
                                        1e3 * seconds / args.steps, kernels / args.steps,
                                        1e3 * kernel_seconds / args.steps, kernel_seconds / max(seconds, 1e-9)))
            print(json.dumps(asdict(profiles[-1])), flush=True)
            write(profiles, args, device)  # after every row: a call cut off at its limit keeps what it measured
    return profiles


def write(profiles: list[StepProfile], args: argparse.Namespace, device: torch.device) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "step_profile.json").write_text(json.dumps([asdict(p) for p in profiles], indent=1) + "\n")
    rows = [f"| {p.encoder} | {p.strategy} | {p.precision} | {p.batch_size} | {p.wall_ms_per_step:.1f} | "
            f"{p.kernels_per_step:.0f} | {p.kernel_ms_per_step:.1f} | {100 * p.busy_share:.0f}% |" for p in profiles]
    (args.out / "step_profile.md").write_text(
        f"Core training steps on {torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}, "
        f"{args.steps} profiled steps after a {args.warmup:,}-example warm-up run (SST-2).\n\n"
        "| encoder | strategy | precision | batch | wall ms/step | GPU kernels/step | kernel ms/step | GPU busy |\n"
        "|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
