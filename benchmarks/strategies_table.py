"""docs/strategies.md: every registered strategy on SST-2 with the quick preset's data and model, its defaults and
the preset's tuning budget, beside the majority class.

    .venv/bin/python -m benchmarks.strategies_table                  # every strategy (≈1 h 45 min on 2 CPU cores)
    .venv/bin/python -m benchmarks.strategies_table --render-only    # the doc again from the last run

One comparison does it: ``runners.compare --task sst2 --preset quick --strategies all``, the preset's budget and
seeds, resumable like any, and the same comparison the README's race check uses as its reference. Each strategy's
first trial is its default configuration (``studies.space.defaults``), so its dev score is the defaults' score; the
best of the trials (an equal budget for every strategy, each on its own learning-rate scale) is the tuned score,
re-run over the seeds and scored on the held-out split. From the Optuna storage the defaults trial's own run record
gives its trainable parameters and training time. The defaults must beat the majority class by the score's binomial
interval (one trial has no per-row predictions to resample): the lower end of the 95 % Wilson interval of their dev
accuracy must lie above the majority class's share of dev. The tuned configuration's seed runs are judged by the
confidence engine (reports.conclusions: learned, beyond noise, against the majority class and chance).

Writes docs/strategies.md and docs/strategies.json (the same rows as data; tests/test_strategies_table.py checks
every registered strategy has one that beats the majority class), and, beside the comparison, table-run.json with
the invocation's wall time and the machine's load before and after (others' jobs slow it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from benchmarks.run import cpu_model, load_average
from peftbench.layout import write_atomic

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "runs" / "strategies-table"
DOC = ROOT / "docs" / "strategies.md"
DATA = ROOT / "docs" / "strategies.json"
RUN_RECORD = "table-run.json"
Z95 = 1.959964  # two-sided 95 % normal quantile
# Why a strategy's defaults fell below the majority class in the committed run, as diagnosed from that run (the
# doc prints it; tests/test_strategies_table.py fails on a strategy below the majority without a diagnosis here).
BELOW_MAJORITY_WHY: dict[str, str] = {}


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (Wilson 1927): unlike p ± z·√(p(1−p)/n) it stays inside
    [0, 1] and is sound near 0 and 1 and for small n."""
    if n <= 0:
        raise ValueError("an interval needs at least one trial")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def majority_share(labels: Sequence[int]) -> float:
    """The accuracy of always predicting the most common label."""
    return max(Counter(labels).values()) / len(labels)


@dataclass
class Row:
    """One strategy's line of the table."""

    name: str
    label: str
    family: str
    encoder_frozen: bool  # declared by the strategy: the encoder never changes, a head on cached features
    base_weights: str
    trainable_params: int | None  # at the defaults
    defaults_dev: float | None  # best dev accuracy of the defaults trial
    defaults_low: float | None  # its 95 % Wilson interval
    defaults_high: float | None
    beats_majority: bool
    train_seconds: float | None  # the defaults trial's training (evaluations excluded)
    tuned_dev: float | None  # best dev accuracy over the budget's trials (the defaults among them)
    tuned_trial: int | None
    tuned_heldout: float | None  # that configuration re-run, mean over the seed runs, on the held-out split
    tuned_learned: bool | None  # the engine's verdict on those seed runs against the baseline (None: not judged)
    trials: int  # trials run (complete or pruned)
    note: str = ""  # why there is no score, when there is none


def comparison_args(args: argparse.Namespace) -> list[str]:
    """``runners.compare``'s arguments for the table's comparison."""
    options = ["--task", "sst2", "--preset", args.preset, "--strategies", args.strategies, "--out", args.out,
               "--quiet"]
    return options + [flag for name, flag in (("data_dir", "--data-dir"), ("model", "--model"), ("trials", "--trials"),
                                              ("seeds", "--seeds"))
                      for flag in ([flag, str(getattr(args, name))] if getattr(args, name) else [])]


def defaults_trial(trials: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The trial that ran the defaults: the first, or the retry of it where a kill interrupted it (``retry_of``)."""
    origin = {trial["number"]: trial["number"] if trial.get("retry_of") is None else trial["retry_of"]
              for trial in trials}
    runs = [trial for trial in trials if origin[trial["number"]] == 0]
    return next((trial for trial in runs if trial["state"] == "COMPLETE"), runs[0] if runs else None)


def defaults_record(results: dict[str, Any], strategy: dict[str, Any], number: int) -> dict[str, Any] | None:
    """The defaults trial's run record (trainable parameters, training time) from the comparison's Optuna storage."""
    import optuna

    from studies.compare import TRIAL_RESULT

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=strategy["study_name"], storage=results["storage"])
    trial = next((trial for trial in study.trials if trial.number == number), None)
    return None if trial is None else trial.user_attrs.get(TRIAL_RESULT)


def table_rows(results: dict[str, Any], majority: float, learned: dict[str, bool | None]) -> list[Row]:
    """Every strategy of the comparison, in its order, as a table row; ``learned``: the engine's verdicts."""
    import statistics

    from strategies import STRATEGIES

    metric = results["task"]["metric"]
    dev_size = results["task"]["sizes"]["dev"]
    rows = []
    for name, strategy in results["strategies"].items():
        cls = STRATEGIES[name]
        trials = strategy.get("trials") or []
        first = defaults_trial(trials)
        record = (defaults_record(results, strategy, first["number"]) if first and first["state"] == "COMPLETE"
                  else None)
        dev = first["value"] if record is not None else None
        low, high = wilson_interval(round(dev * dev_size), dev_size) if dev is not None else (None, None)
        best = strategy.get("best") or {}
        seed_runs = strategy.get("seed_runs") or []
        held = [run["metrics"].get("test", {}).get(metric) for run in seed_runs]
        heldout = statistics.fmean(held) if held and None not in held else None
        note = "" if record is not None else (first or {}).get("reason") or "the defaults trial did not complete"
        rows.append(Row(name=name, label=cls.label or name, family=cls.family, encoder_frozen=cls.encoder_frozen,
                        base_weights=cls.base_weights,
                        trainable_params=record["trainable_params"] if record else None, defaults_dev=dev,
                        defaults_low=low, defaults_high=high, beats_majority=low is not None and low > majority,
                        train_seconds=record["train_seconds"] if record else None, tuned_dev=best.get("value"),
                        tuned_trial=best.get("trial"), tuned_heldout=heldout, tuned_learned=learned.get(name),
                        trials=len(trials), note=note))
    return rows


def data_majorities(results: dict[str, Any], data_dir: str | None) -> dict[str, float]:
    """The majority class's share of dev and of the held-out split, from the comparison's own data (same seed)."""
    from peftbench.config import TrainConfig
    from peftbench.tasks import load_task

    settings = results["settings"]
    config = TrainConfig(task=results["task"]["name"], data_dir=data_dir, train_size=settings["train_size"],
                         carve_size=settings["carve_size"], protocol=settings["protocol"], seed=settings["data_seed"])
    data = load_task(config.task_request())
    if len(data.dev) != results["task"]["sizes"]["dev"]:
        raise RuntimeError(f"dev has {len(data.dev)} rows here, {results['task']['sizes']['dev']} in the comparison")
    shares = {"dev": majority_share(list(data.dev["label"]))}
    if data.test is not None:
        shares["heldout"] = majority_share(list(data.test["label"]))
    return shares


def verdict(learned: bool | None) -> str:
    """The engine's verdict against the majority class: shown, or not shown (which is not "did not learn": with 2
    seeds its t interval has one degree of freedom, Bonferroni over every strategy)."""
    return "–" if learned is None else "yes" if learned else "not shown"


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}"


def render(results: dict[str, Any], rows: list[Row], majorities: dict[str, float], run: dict[str, Any]) -> str:
    """docs/strategies.md."""
    settings, task = results["settings"], results["task"]
    trials = results["budget"]["per_strategy"]
    failing = [row for row in rows if not row.beats_majority]
    frozen = next((row for row in rows if row.encoder_frozen), None)
    minutes, seconds = divmod(round(run["wall_seconds"]), 60)
    lines = [
        "# Every strategy on SST-2: defaults, a small tuning budget, the majority class",
        "",
        f"Generated by `python -m benchmarks.strategies_table` (one run of {len(rows)} strategies: "
        f"**{minutes // 60} h {minutes % 60:02d} min {seconds:02d} s** wall time"
        + (", resumed from an interrupted run" if run.get("resumed") else "") + f", on {run['cpu']}, "
        f"{run['threads']} threads; load average {run['load_before']} before and {run['load_after']} after: other "
        f"jobs shared the machine, so times are upper bounds). Data and model are the {results['preset']} preset's: "
        f"{results['model']['name']}, {settings['train_size']:,} SST-2 training sentences, one epoch at batch size "
        f"{settings['batch_sizes'][0]}, inputs cut at {settings['max_length']} tokens; dev is "
        f"{task['sizes']['dev']:,} rows carved from train (selection), held-out is the official dev file "
        f"({task['sizes'].get('test', 0):,} rows).",
        "",
        f"- **defaults**: the strategy's own default configuration (its first trial), best dev accuracy of the run, "
        f"with its 95 % Wilson interval;",
        f"- **tuned**: the best dev accuracy of {trials} trials (the defaults, then Optuna's {settings['sampler']} "
        f"sampler over the strategy's own search space, successive-halving pruning), the same budget for every "
        f"strategy, each on its own learning-rate scale; **held-out**: that configuration re-run over "
        f"{settings['seeds']} seeds, the mean on the held-out split; **learned**: whether those seed runs beat the "
        f"majority class beyond noise by the confidence engine (docs/statistics.md; *not shown* is not *did not learn*: with "
        f"{settings['seeds']} seeds the seed term has {settings['seeds'] - 1} degree(s) of freedom and the test is "
        f"corrected over {len(rows)} strategies, so only a wide margin shows);",
        f"- **trainable** parameters and **train s** (training seconds, evaluations excluded) are the defaults run's.",
        "",
        f"**Majority class**: {percent(majorities['dev'])} % of dev, {percent(majorities.get('heldout'))} % of "
        f"held-out. Every strategy's defaults must beat it by the score's binomial interval (the interval's lower end "
        f"above the majority share)."
        + (f" For scale, the frozen encoder with a trained head alone (`{frozen.name}`) reaches "
           f"{percent(frozen.defaults_dev)} % at its defaults: mean-pooled MiniLM features already separate SST-2 well, so beating the majority class "
           f"is the floor, not the bar." if frozen and frozen.defaults_dev is not None else ""),
        "",
        "| strategy | family | trainable | defaults dev % (95 % interval) | beats majority | tuned dev % | "
        "held-out % | learned | train s |",
        "|---|---|---:|---|---|---:|---:|---|---:|",
    ]
    for row in rows:
        interval = (f"{percent(row.defaults_dev)} ({percent(row.defaults_low)}–{percent(row.defaults_high)})"
                    if row.defaults_dev is not None else f"– ({row.note})")
        trainable = f"{row.trainable_params:,}" if row.trainable_params is not None else "–"
        train = f"{row.train_seconds:.0f}" if row.train_seconds is not None else "–"
        lines.append(f"| {row.name} | {row.family} | {trainable} | {interval} | {'yes' if row.beats_majority else '**no**'}"
                     f" | {percent(row.tuned_dev)} | {percent(row.tuned_heldout)} | {verdict(row.tuned_learned)} | {train} |")
    lines += ["", "## Below the majority class at the defaults", ""]
    if failing:
        lines += [f"- **{row.name}**: defaults {percent(row.defaults_dev)} % on dev (95 % interval "
                  f"{percent(row.defaults_low)}–{percent(row.defaults_high)}) against the majority's "
                  f"{percent(majorities['dev'])} %; tuned, {percent(row.tuned_heldout)} % held-out"
                  f"{'' if row.tuned_learned is None else ', learned' if row.tuned_learned else ', did not learn'}. "
                  f"{BELOW_MAJORITY_WHY.get(row.name) or row.note or 'Not diagnosed yet.'}" for row in failing]
    else:
        lines.append(f"None: every strategy's defaults beat the majority class ({percent(majorities['dev'])} %) by "
                     f"their binomial interval.")
    versions = results.get("environment", {}).get("versions", {})
    lines += ["", f"Versions: {', '.join(f'{k} {v}' for k, v in sorted(versions.items()))}.", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.strategies_table", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(DEFAULT_OUT), help=f"comparison directory (default: {DEFAULT_OUT})")
    parser.add_argument("--trials", type=int, help="tuning trials per strategy, the defaults first (default: the preset's)")
    parser.add_argument("--seeds", type=int, help="seed runs of each best configuration (default: the preset's)")
    parser.add_argument("--strategies", default="all", help="strategies or groups (default: all)")
    parser.add_argument("--data-dir", help="GLUE-layout data (default: as runners.compare finds it)")
    parser.add_argument("--preset", default="quick", help="runners.compare's preset (default: quick)")
    parser.add_argument("--model", help="the preset's model unless given")
    parser.add_argument("--render-only", action="store_true", help="write the doc from the comparison already in --out")
    parser.add_argument("--doc", default=str(DOC), help=f"where to write the table (default: {DOC})")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if not args.render_only:
        import torch

        from runners.compare import main as compare

        run = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "load_before": load_average(), "cpu": cpu_model(),
               "threads": torch.get_num_threads(), "resumed": (out / "results.json").is_file()}
        started = time.perf_counter()
        compare(comparison_args(args))
        run.update(wall_seconds=time.perf_counter() - started, load_after=load_average(),
                   finished=time.strftime("%Y-%m-%d %H:%M:%S"))
        write_atomic(out / RUN_RECORD, json.dumps(run, indent=2) + "\n")
    run = json.loads((out / RUN_RECORD).read_text())
    results = json.loads((out / "results.json").read_text())
    majorities = data_majorities(results, args.data_dir)
    from peftbench.schema import load_results
    from reports.conclusions import conclude

    conclusions = conclude(load_results(out))
    rows = table_rows(results, majorities["dev"], {name: conclusions.learned(name) for name in results["strategies"]})
    doc = Path(args.doc)
    write_atomic(doc, render(results, rows, majorities, run))
    write_atomic(doc.with_suffix(".json"), json.dumps({"majority": majorities, "run": run, "sizes": results["task"]["sizes"],
                                                       "rows": [asdict(row) for row in rows]}, indent=2) + "\n")
    failing = [row.name for row in rows if not row.beats_majority]
    print(f"wrote {doc} ({len(rows)} strategies, {len(failing)} below the majority class at their defaults"
          f"{': ' + ', '.join(failing) if failing else ''})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
