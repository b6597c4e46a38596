"""A whole comparison on the lent GPU, with several trials sharing it: ``runners.compare --device cuda --workers N``
on the carried MiniLM and SST-2, while a sampler reads the GPU's busy share and memory (NVML) every 0.25 s.

    bash benchmarks/gpu_compare.sh --device cuda     # on the GPU machine (the `device` call: benchmarks/NOTES.md)
    .venv/bin/python -m benchmarks.gpu_compare       # without a CUDA GPU: the CPU fallback, the same runs made tiny

Two phases, in one call:

1. **sweep**: the same short comparison (the seven classic strategies, quick preset on a small training set,
   a reduced budget) with N = 1, 2, 4, 8, 16 workers, for the wall time, busy share and peak memory of each N;
2. **measure**: the quick preset's whole budget (3 trials and 3 seed runs per strategy) on a larger training set,
   with the N the sweep found fastest (ties: the fewer workers), then with 1 worker.

It needs torch, transformers, peft and accelerate (on the GPU machine) and Optuna (carried as wheels:
``gpu_compare.sh`` installs what ``.whl/`` holds), and the folder ``benchmarks.pack_gpu_assets`` writes; not the
datasets library, nor bitsandbytes (QLoRA is then skipped by the comparison, in one line). Into ``--out``
(default ``$OUT``) go gpu_compare.md (a table per phase), gpu_compare.json (every number), gpu_compare.log (every
comparison's output) and runs.tar.gz (each comparison's results.json and compare.log, to render reports from
elsewhere: reports need no torch). Exit 0 when every comparison finished complete, 1 otherwise, 2 when it
cannot start.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.gpu_check import DEFAULT_ASSETS, TASK, check_assets, cpu_sample, refuse, unpack_minilm

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SECONDS = 0.25


@dataclass(frozen=True)
class Plan:
    """One phase's comparisons: the same command at each worker count."""

    phase: str
    workers: tuple[int, ...]
    args: tuple[str, ...]  # to runners.compare, besides task, data, model, device, workers and out
    cap_s: int  # the most seconds one comparison may take


def gpu_plans(strategies: str, measure_size: int) -> list[Plan]:
    quick = ("--preset", "quick", "--strategies", strategies)
    return [Plan("sweep", (1, 2, 4, 8, 16), (*quick, "--train-size", "1000", "--trials", "2", "--seeds", "2"), 150),
            Plan("measure", (1,), (*quick, "--train-size", str(measure_size)), 330)]


def cpu_plans(strategies: str) -> list[Plan]:
    tiny = ("--preset", "smoke", "--strategies", strategies, "--trials", "1", "--seeds", "1")
    return [Plan("sweep", (1, 2), tiny, 240), Plan("measure", (1,), tiny, 240)]


@dataclass
class GpuSamples:
    """What the sampler read while one comparison ran."""

    busy: list[float] = field(default_factory=list)  # % of the sample period a kernel ran (NVML utilisation)
    memory_mib: list[float] = field(default_factory=list)  # device memory in use

    def summary(self) -> dict:
        return {"busy_mean": statistics.fmean(self.busy) if self.busy else None,
                "busy_median": statistics.median(self.busy) if self.busy else None,
                "memory_peak_mib": max(self.memory_mib) if self.memory_mib else None, "samples": len(self.busy)}


class Sampler:
    """GPU 0's utilisation and memory every SAMPLE_SECONDS while a comparison runs: read through NVML
    (nvidia-ml-py) where it initialises, else from ``nvidia-smi``'s own sampling loop, else not at all (the
    numbers are then None, and the runs are still timed)."""

    def __init__(self, enabled: bool):
        self.samples = GpuSamples()
        self.stop = threading.Event()
        self.read = self.nvml_reader() if enabled else None
        self.smi: subprocess.Popen | None = None
        if enabled and self.read is None:
            try:
                self.smi = subprocess.Popen(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used",
                                             "--format=csv,noheader,nounits", f"-lms={int(SAMPLE_SECONDS * 1000)}"],
                                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            except OSError:
                self.smi = None
        self.thread = threading.Thread(target=self.loop if self.smi is None else self.follow, daemon=True)

    @staticmethod
    def nvml_reader():
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        except Exception:  # noqa: BLE001 — no NVML here: nvidia-smi is tried instead
            return None
        return lambda: (float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu),
                        pynvml.nvmlDeviceGetMemoryInfo(handle).used / 2**20)

    def loop(self) -> None:
        while not self.stop.wait(SAMPLE_SECONDS):
            if self.read is not None:
                busy, memory = self.read()
                self.samples.busy.append(busy)
                self.samples.memory_mib.append(memory)

    def follow(self) -> None:
        for line in self.smi.stdout:
            if self.stop.is_set():
                return
            busy, _, memory = line.partition(",")
            try:
                self.samples.busy.append(float(busy))
                self.samples.memory_mib.append(float(memory))
            except ValueError:
                continue

    def __enter__(self) -> "Sampler":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        if self.smi is not None:
            self.smi.terminate()
        self.thread.join(timeout=5)


@dataclass
class Run:
    phase: str
    workers: int
    status: str  # complete | partial | failed (exit N) | timed out | skipped
    seconds: float = 0.0
    gpu: dict = field(default_factory=dict)
    strategies: dict = field(default_factory=dict)  # name → held-out mean, sd, seed runs, trials
    skipped: dict = field(default_factory=dict)
    train_size: int | None = None


def comparison(plan: Plan, workers: int, common: list[str], scratch: Path, log_file, seconds: float,
               use_cuda: bool) -> Run:
    """One ``runners.compare`` subprocess (its own process group, killed whole after ``seconds``)."""
    out = scratch / f"{plan.phase}-{workers}"
    command = [sys.executable, "-m", "runners.compare", *common, *plan.args, "--workers", str(workers),
               "--out", str(out), "--quiet", "--no-report"]
    log_file.write(f"\n===== {plan.phase}, {workers} worker(s): {' '.join(command)}\n")
    log_file.flush()
    started = time.monotonic()
    with Sampler(use_cuda) as sampler:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=log_file, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            code = process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            code = None
    run = Run(plan.phase, workers, "timed out" if code is None else {0: "complete", 3: "partial"}.get(
        code, f"failed (exit {code})"), time.monotonic() - started, sampler.samples.summary())
    results = out / "results.json"
    if results.is_file():
        record = json.loads(results.read_text(encoding="utf-8"))
        run.skipped, run.train_size = record.get("skipped", {}), record["task"]["sizes"]["train"]
        metric = record["task"]["metric"]
        for name, strategy in record["strategies"].items():
            held = [r["metrics"]["test"][metric] for r in strategy["seed_runs"] if r["metrics"].get("test")]
            run.strategies[name] = {"heldout_mean": statistics.fmean(held) if held else None,
                                    "heldout_sd": statistics.stdev(held) if len(held) > 1 else None,
                                    "seed_runs": len(held), "trials": len(strategy["trials"]),
                                    "status": strategy["status"]}
    return run


def best_workers(runs: list[Run]) -> int:
    """The fastest worker count of the sweep's complete runs (within 5% of the fastest: the fewest workers)."""
    done = [run for run in runs if run.status == "complete"]
    if not done:
        return 1
    fastest = min(run.seconds for run in done)
    return min(run.workers for run in done if run.seconds <= 1.05 * fastest)


def table(runs: list[Run], phase: str) -> list[str]:
    chosen = [run for run in runs if run.phase == phase]
    if not chosen:
        return []
    base = next((run.seconds for run in chosen if run.workers == 1 and run.status == "complete"), None)
    lines = [f"## {phase}", "", "| workers | status | wall s | speed-up vs 1 | GPU busy mean % | GPU busy median % "
             "| peak GPU MiB | held-out (mean over seeds) |", "|---|---|---|---|---|---|---|---|"]
    for run in chosen:
        gpu = run.gpu
        fmt = lambda value, spec: "–" if value is None else format(value, spec)  # noqa: E731
        scores = ", ".join(f"{name} {s['heldout_mean']:.3f}" for name, s in run.strategies.items()
                           if s["heldout_mean"] is not None)
        speedup = f"{base / run.seconds:.2f}×" if base and run.status == "complete" else "–"
        lines.append(f"| {run.workers} | {run.status} | {run.seconds:.0f} | {speedup} | {fmt(gpu.get('busy_mean'), '.0f')} "
                     f"| {fmt(gpu.get('busy_median'), '.0f')} | {fmt(gpu.get('memory_peak_mib'), ',.0f')} | {scores} |")
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    parser.add_argument("--assets", type=Path, default=DEFAULT_ASSETS, help="the folder pack_gpu_assets wrote")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or PROJECT_ROOT / "benchmarks" / "out"
                                                         / "gpu-compare"))
    parser.add_argument("--budget-s", type=float, default=540.0, help="seconds for both phases together")
    parser.add_argument("--measure-size", type=int, default=5000, help="training examples of the measure phase")
    parser.add_argument("--phases", default="sweep,measure")
    parser.add_argument("--measure-workers", type=lambda text: tuple(int(n) for n in text.split(",")),
                        help="worker counts of the measure phase, in order (default: the sweep's best, then 1)")
    parser.add_argument("--strategies", default="classic",
                        help="what every comparison compares (default: classic; QLoRA is skipped where bitsandbytes "
                             "cannot load)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        import optuna
        import torch
    except ImportError as error:
        refuse(f"cannot import what the comparison needs ({error}); install the carried wheels (gpu_compare.sh)")
    use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        refuse(f"no CUDA GPU visible to torch {torch.__version__}")
    manifest = check_assets(args.assets)
    plans = [plan for plan in (gpu_plans(args.strategies, args.measure_size) if use_cuda else cpu_plans(args.strategies))
             if plan.phase in args.phases.split(",")]
    from peftbench.costs import versions

    environment = {"device": f"cuda: {torch.cuda.get_device_name(0)}" if use_cuda else "cpu (the CPU fallback)",
                   "python": sys.version.split()[0], "cpus": os.cpu_count(), "optuna": optuna.__version__,
                   "versions": {k: v for k, v in versions().items() if k != "python"},
                   "carried_mib": manifest["total_mib"]}
    print(f"gpu_compare: {environment}", file=sys.stderr, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="gpu-compare-") as temporary, \
            (args.out / "gpu_compare.log").open("w", encoding="utf-8") as log_file:
        scratch = Path(temporary)
        minilm = unpack_minilm(args.assets, scratch / "models")
        data_dir = args.assets if use_cuda else cpu_sample(args.assets, scratch / "data")
        common = ["--task", TASK, "--data-dir", str(data_dir), "--model", str(minilm),
                  "--device", "cuda" if use_cuda else "cpu"]
        for plan in plans:
            counts = plan.workers if plan.phase != "measure" else args.measure_workers or \
                tuple(dict.fromkeys((best_workers([r for r in runs if r.phase == "sweep"]), *plan.workers)))
            for workers in counts:
                left = args.budget_s - (time.monotonic() - started)
                if left < 30:
                    runs.append(Run(plan.phase, workers, f"skipped: {left:.0f} s of the budget left"))
                    continue
                run = comparison(plan, workers, common, scratch, log_file, min(plan.cap_s, left), use_cuda)
                runs.append(run)
                print(f"gpu_compare: {plan.phase}, {workers} worker(s): {run.status} in {run.seconds:.0f} s; "
                      f"GPU {run.gpu}", file=sys.stderr, flush=True)
                if run.status.startswith("failed") and workers == counts[0]:
                    break  # the first comparison of a phase failed: the others would fail alike
        with tarfile.open(args.out / "runs.tar.gz", "w:gz") as archive:
            for folder in sorted(p for p in scratch.iterdir() if p.name.startswith(("sweep-", "measure-"))):
                for name in ("results.json", "compare.log", "workers.log"):
                    if (folder / name).is_file():
                        archive.add(folder / name, arcname=f"{folder.name}/{name}")
    seconds = time.monotonic() - started
    (args.out / "gpu_compare.json").write_text(json.dumps({"environment": environment, "seconds": seconds,
                                                          "runs": [asdict(run) for run in runs]}, indent=2) + "\n")
    lines = [f"# Comparison on {environment['device']}", "", f"{seconds:.0f} s in all; best N of the sweep: "
             f"{best_workers([r for r in runs if r.phase == 'sweep'])}", ""]
    for plan in plans:
        lines += table(runs, plan.phase)
    (args.out / "gpu_compare.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0 if runs and all(run.status == "complete" for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
