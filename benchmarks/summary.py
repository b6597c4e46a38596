"""From the runs of one invocation to medians, spreads, core/Trainer ratios and target checks, written
as JSON (everything, every run) and Markdown tables (what a reader needs).

The Trainer runs in two settings (``benchmarks.hf_trainer``): as a tutorial writes it (every row padded to
``max_length``) and at its best (dynamic padding, length grouping, fused AdamW). The headline ratio and
its target are core / Trainer at its best; core / Trainer as a tutorial writes it is the second column."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.measure import (CORE, CORE_COLD, CORE_NO_CACHE, TRAINER, TRAINER_BEST, RunMeasurement, spread,
                                training_flops)

# The targets: core samples/s over the samples/s of the Trainer at its best per strategy, the frozen
# feature cache's per-trial speed-up, and the full fine-tune's share of the measured matmul rate.
TARGET_SPEEDUP = 1.5
TARGET_SPEEDUP_QUANTISED = 1.0  # an encoder loaded quantised: both paths spend the step in the same dequantisation
TARGET_CACHE_SPEEDUP = 10.0
TARGET_MATMUL_FRACTION = 0.5
MIB = 2**20


@dataclass
class PathSummary:
    """One path's runs of one strategy. ``[median, min, max]`` lists."""

    runs: int
    samples_per_second: list[float]
    peak_memory_mib: list[float]
    wall_seconds: list[float] | None  # complete runs only (timing-only runs stop early)
    dev_scores: list[float]


@dataclass
class StrategySummary:
    strategy: str
    trainer: PathSummary  # as a tutorial writes it: every row padded to max_length
    trainer_best: PathSummary  # at its best: dynamic padding, length grouping, fused AdamW
    core: PathSummary
    speedup: list[float]  # core / Trainer at its best, samples/s per repetition: [median, min, max]; the headline
    speedup_tutorial: list[float]  # core / Trainer as a tutorial writes it
    target: float | None  # for ``speedup``
    met: bool | None
    dev_difference: float | None  # core − Trainer at its best, median dev scores
    dev_difference_tutorial: float | None  # core − Trainer as a tutorial writes it
    dev_tolerance: float  # 95% binomial noise of a difference between two scores on this dev set
    agree: bool | None  # both differences within the tolerance


@dataclass
class FrozenCache:
    """A frozen-encoder trial with the feature cache against one that runs the encoder every step."""

    cold_trial_seconds: float | None  # the first trial in a process: features computed and stored
    warm_trial_seconds: list[float]  # later trials: features from the cache; [median, min, max]
    no_cache_trial_seconds: list[float]
    speedup: float  # median no-cache trial / median warm trial
    target: float
    met: bool
    dev_cached: float
    dev_no_cache: float


@dataclass
class Flops:
    """Achieved training FLOP/s (6 × non-embedding parameters × real tokens) against the machine's matmul rate."""

    non_embedding_parameters: int
    matmul_flops_per_second: list[float]  # every measurement, in run order
    peak_flops_per_second: float | None  # the accelerator's datasheet peak for this precision, where known
    # strategy → path → {"flops_per_second", "share_of_matmul"} → [median, min, max]; each run's share is
    # against the matmul measured in its own repetition, so a change in machine load cancels out
    per_strategy: dict[str, dict[str, dict[str, list[float]]]] = field(default_factory=dict)
    target: float = TARGET_MATMUL_FRACTION
    target_strategy: str | None = None  # the reference strategy (its declared ``reference``), whose core path is held to it
    met: bool | None = None

    @property
    def matmul_median(self) -> float:
        return statistics.median(self.matmul_flops_per_second)


@dataclass
class BenchmarkReport:
    settings: dict[str, Any]
    environment: dict[str, Any]
    strategies: list[StrategySummary]
    frozen_cache: FrozenCache | None
    flops: Flops
    runs: list[RunMeasurement]
    seconds: float  # the whole invocation


def dev_tolerance(score: float, dev_size: int) -> float:
    """1.96·sqrt(2·p(1−p)/n): how far two independent runs' dev accuracies drift apart by sampling alone.
    A yardstick for "the same result", not a test (it ignores training-seed variance, which adds to it)."""
    p = min(max(score, 0.0), 1.0)
    return 1.96 * math.sqrt(2 * p * (1 - p) / max(dev_size, 1))


def summarise_path(runs: list[RunMeasurement]) -> PathSummary:
    complete = [r for r in runs if r.dev_score is not None]
    return PathSummary(
        runs=len(runs),
        samples_per_second=list(spread([r.samples_per_second for r in runs])),
        peak_memory_mib=list(spread([r.peak_memory_bytes / MIB for r in runs])),
        wall_seconds=list(spread([r.wall_seconds for r in complete])) if complete else None,
        dev_scores=[r.dev_score for r in complete],
    )


def speedup_target(strategy: str) -> float | None:
    """The speed target of ``strategy``, from what it declares: none for a frozen encoder (its target is the
    feature cache's speed-up), TARGET_SPEEDUP_QUANTISED for one it loads quantised, else TARGET_SPEEDUP."""
    from peftbench.strategy import Strategy
    from strategies import STRATEGIES

    declared = STRATEGIES[strategy]
    if declared.encoder_frozen:
        return None
    return TARGET_SPEEDUP_QUANTISED if declared.quantization is not Strategy.quantization else TARGET_SPEEDUP


def summarise_strategy(strategy: str, runs: list[RunMeasurement], dev_size: int) -> StrategySummary:
    by_path = {path: [r for r in runs if r.strategy == strategy and r.path == path]
               for path in (TRAINER, TRAINER_BEST, CORE)}
    summaries = {path: summarise_path(chosen) for path, chosen in by_path.items()}
    core = summaries[CORE]

    def speedup_over(path: str) -> list[float]:
        """core / ``path`` samples/s, each core run against the same repetition's run of ``path``."""
        return list(spread([c.samples_per_second / t.samples_per_second
                            for t in by_path[path] for c in by_path[CORE] if c.repetition == t.repetition]))

    def dev_difference_from(path: str) -> float | None:
        if not (summaries[path].dev_scores and core.dev_scores):
            return None
        return statistics.median(core.dev_scores) - statistics.median(summaries[path].dev_scores)

    speedup = speedup_over(TRAINER_BEST)
    target = speedup_target(strategy)
    differences = {path: dev_difference_from(path) for path in (TRAINER_BEST, TRAINER)}
    tolerance = dev_tolerance(statistics.median(core.dev_scores or [0.5]), dev_size)
    known = [d for d in differences.values() if d is not None]
    return StrategySummary(
        strategy=strategy, trainer=summaries[TRAINER], trainer_best=summaries[TRAINER_BEST], core=core,
        speedup=speedup, speedup_tutorial=speedup_over(TRAINER), target=target,
        met=None if target is None else speedup[0] >= target,
        dev_difference=differences[TRAINER_BEST], dev_difference_tutorial=differences[TRAINER],
        dev_tolerance=tolerance, agree=all(abs(d) <= tolerance for d in known) if known else None,
    )


def summarise_frozen_cache(runs: list[RunMeasurement]) -> FrozenCache | None:
    """The feature cache's speed-up, from the runs of the strategy measured without it (one whose encoder is
    frozen: benchmarks.run times it with a cold cache, a warm one and none)."""
    no_cache = [r for r in runs if r.path == CORE_NO_CACHE]
    warm = [r for r in runs if no_cache and r.strategy == no_cache[0].strategy and r.path == CORE]
    cold = [r for r in runs if no_cache and r.strategy == no_cache[0].strategy and r.path == CORE_COLD]
    if not warm or not no_cache:
        return None
    warm_seconds, no_cache_seconds = spread([r.wall_seconds for r in warm]), spread([r.wall_seconds for r in no_cache])
    speedup = no_cache_seconds[0] / max(warm_seconds[0], 1e-9)
    return FrozenCache(
        cold_trial_seconds=cold[0].wall_seconds if cold else None, warm_trial_seconds=list(warm_seconds),
        no_cache_trial_seconds=list(no_cache_seconds), speedup=speedup, target=TARGET_CACHE_SPEEDUP,
        met=speedup >= TARGET_CACHE_SPEEDUP, dev_cached=statistics.median(r.dev_score for r in warm),
        dev_no_cache=statistics.median(r.dev_score for r in no_cache),
    )


def summarise_flops(runs: list[RunMeasurement], non_embedding: int, matmul: list[float],
                    peak: float | None) -> Flops:
    from strategies import STRATEGIES

    # the strategies that train every weight (family "full", as declared), where the 6·N·T work formula applies
    every_weight = [name for name, cls in STRATEGIES.items() if cls.family == "full"]
    reference = next((name for name in every_weight if STRATEGIES[name].reference), None)
    flops = Flops(non_embedding_parameters=non_embedding, matmul_flops_per_second=matmul, peak_flops_per_second=peak,
                  target_strategy=reference)
    for strategy in every_weight:
        for path in (TRAINER, TRAINER_BEST, CORE):
            chosen = [r for r in runs if r.strategy == strategy and r.path == path]
            if chosen:
                rates = [training_flops(non_embedding, r.tokens) / max(r.train_seconds, 1e-9) for r in chosen]
                shares = [rate / matmul[r.repetition] for r, rate in zip(chosen, rates)]
                flops.per_strategy.setdefault(strategy, {})[path] = {
                    "flops_per_second": list(spread(rates)), "share_of_matmul": list(spread(shares))}
    core_reference = flops.per_strategy.get(reference, {}).get(CORE)
    if core_reference:
        flops.met = core_reference["share_of_matmul"][0] >= TARGET_MATMUL_FRACTION
    return flops


def write(report: BenchmarkReport, out_dir: Path, name: str) -> tuple[Path, Path]:
    """``<name>.json`` (everything) and ``<name>.md`` (the table) under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    json_path.write_text(json.dumps(asdict(report), indent=1) + "\n", encoding="utf-8")
    md_path.write_text(markdown(report), encoding="utf-8")
    return json_path, md_path


def _range(values: list[float] | None, digits: int = 1) -> str:
    if not values:
        return "–"
    median, low, high = values
    return f"{median:.{digits}f} ({low:.{digits}f}–{high:.{digits}f})" if high > low else f"{median:.{digits}f}"


def _mark(met: bool | None) -> str:
    return "" if met is None else (" ✓" if met else " ✗ missed")


def _score(values: list[float]) -> str:
    return "–" if not values else f"{statistics.median(values):.4f}"


def _agree(row: StrategySummary) -> str:
    if row.agree is None:
        return "–"
    differences = [f"{d:+.4f} {name}" for d, name in ((row.dev_difference, "best"),
                                                       (row.dev_difference_tutorial, "tutorial")) if d is not None]
    return f"{'yes' if row.agree else 'NO'} ({', '.join(differences)}; ±{row.dev_tolerance:.4f})"


def markdown(report: BenchmarkReport) -> str:
    """The human-readable tables: per strategy the three paths' speed, the headline ratio (core / Trainer at
    its best) and its target, then memory, wall time and dev scores, then FLOP/s and the cache."""
    s, env = report.settings, report.environment
    lines = [
        f"# core vs transformers.Trainer — {s['task']}, {s['train_size']} training examples, {s['model_name']}",
        "",
        f"{env['device']}; {env['threads']} threads; OMP_WAIT_POLICY={env['omp_wait_policy']}; precision "
        f"{s['precision']}; batch {s['batch_size']}, {s['epochs']} epoch(s), rows truncated to {s['max_length']} "
        f"tokens; {s['repetitions']} interleaved repetitions (the first complete; later ones time "
        f"{s['trainer_steps']} steps of the tutorial Trainer, whose padded steps all cost the same, against "
        f"complete runs of the other two); load average {env['load_before']} before, {env['load_after']} after; "
        f"{report.seconds / 60:.1f} min in all.",
        "",
        "Trainer, tutorial: as a tutorial writes it, every row padded to max_length, random batches, its default "
        "optimizer. Trainer, best: what a user who knows the Trainer turns on, dynamic padding "
        "(`DataCollatorWithPadding`), `train_sampling_strategy=\"group_by_length\"`, "
        "`optim=\"adamw_torch_fused\"`. **core / Trainer (best)** is the headline ratio and the one the target "
        "applies to.",
        "",
        "Median (min–max) over repetitions. samples/s: training loop only.",
        "",
        "| strategy | Trainer, tutorial samples/s | Trainer, best samples/s | core samples/s "
        "| **core / Trainer (best)** | target | core / Trainer (tutorial) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report.strategies:
        target = "–" if row.target is None else f"≥{row.target:g}×{_mark(row.met)}"
        lines.append(
            f"| {row.strategy} | {_range(row.trainer.samples_per_second)} "
            f"| {_range(row.trainer_best.samples_per_second)} | {_range(row.core.samples_per_second)} "
            f"| **{_range(row.speedup, 2)}×** | {target} | {_range(row.speedup_tutorial, 2)}× |")
    lines += ["", f"Peak memory: {env['memory_kind']}, MiB. Wall: a complete run (load, train, evaluate), s. "
              f"Dev: {s['metric']} on {s['dev_size']} dev examples; 'agree' when core − Trainer is within ±tolerance "
              "(95% binomial) for both Trainer columns. Each cell: tutorial / best / core.", "",
              "| strategy | peak MiB | wall s | dev | agree (core − Trainer; ± tol) |", "|---|---|---|---|---|"]
    for row in report.strategies:
        paths = (row.trainer, row.trainer_best, row.core)
        lines.append(
            f"| {row.strategy} | {' / '.join(_range(p.peak_memory_mib, 0) for p in paths)} "
            f"| {' / '.join(_range(p.wall_seconds) for p in paths)} "
            f"| {' / '.join(_score(p.dev_scores) for p in paths)} | {_agree(row)} |")
    flops = report.flops
    lines += ["", "## Achieved FLOP/s", "",
              f"Work = 6 × {flops.non_embedding_parameters / 1e6:.2f}M non-embedding parameters × real (unpadded) "
              f"tokens. Matmul yardstick: {env['matmul']} measured {len(flops.matmul_flops_per_second)}× in this run: "
              + ", ".join(f"{rate / 1e9:.0f}" for rate in flops.matmul_flops_per_second)
              + f" GFLOP/s (median {flops.matmul_median / 1e9:.0f})."
              + (f" Datasheet peak: {flops.peak_flops_per_second / 1e12:.0f} TFLOP/s." if flops.peak_flops_per_second else ""),
              "", "| strategy | path | GFLOP/s | share of the matmul rate measured in the same repetition |"
              + (" share of datasheet peak (MFU) |" if flops.peak_flops_per_second else ""),
              "|---|---|---|---|" + ("---|" if flops.peak_flops_per_second else "")]
    for strategy, paths in flops.per_strategy.items():
        for path, measured in paths.items():
            rates, shares = measured["flops_per_second"], measured["share_of_matmul"]
            goal = f" (target ≥{flops.target:.0%}{_mark(flops.met)})" if strategy == flops.target_strategy and path == CORE else ""
            row = f"| {strategy} | {path} | {_range([r / 1e9 for r in rates])} | {_range([100 * x for x in shares], 0)}%{goal} |"
            if flops.peak_flops_per_second:
                row += f" {rates[0] / flops.peak_flops_per_second:.1%} |"
            lines.append(row)
    cache = report.frozen_cache
    if cache:
        cold = f"{cache.cold_trial_seconds:.1f} s" if cache.cold_trial_seconds is not None else "not run"
        lines += ["", "## Frozen encoder: feature cache", "",
                  f"Per trial (whole run, wall): cached features {_range(cache.warm_trial_seconds, 2)} s, head "
                  f"trained through the frozen encoder every step (`cache_features=False`) "
                  f"{_range(cache.no_cache_trial_seconds, 2)} s: **{cache.speedup:.1f}×** "
                  f"(target ≥{cache.target:g}×{_mark(cache.met)}). First trial of a process (computes and stores "
                  f"the features): {cold}. Dev {s['metric']}: cached {cache.dev_cached:.4f}, "
                  f"uncached {cache.dev_no_cache:.4f}."]
    lines += ["", "Every run, the settings and the environment: the JSON file beside this one. Why the numbers are "
              "what they are, and what was tried: `benchmarks/NOTES.md`.", ""]
    return "\n".join(lines)
