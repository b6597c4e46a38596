"""Do two comparisons give the same results? ``python -m benchmarks.same_results BEFORE.json AFTER.json [--skip a,b]``

Compares what a change to the code's structure must not change: every tuning trial's state, parameters, value and
intermediate values; each strategy's chosen trial, value and configuration; every seed run's hyperparameters,
metrics, steps, parameter counts, samples and tokens seen, learning curve and data sizes. Times, memory, latency,
paths and timestamps are left out: they differ between any two runs. Reads the files as raw JSON, so results
written by an older schema version compare as they were written. Exit 0 when nothing differs, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

TRIAL_FIELDS = ("state", "params", "value", "intermediate", "samples_seen")
BEST_FIELDS = ("trial", "value", "params")
SEED_RUN_FIELDS = ("seed", "hyperparameters", "metrics", "steps", "trainable_params", "total_params",
                   "train_samples_seen", "train_tokens_seen", "learning_curve", "data_sizes")


def differences(before: dict[str, Any], after: dict[str, Any], skip: set[str]) -> tuple[int, list[str]]:
    """(fields compared, one line per field that differs)."""
    compared, found = 0, []

    def compare(where: str, a: Any, b: Any) -> None:
        nonlocal compared
        compared += 1
        if a != b:
            found.append(f"{where}: {str(a)[:120]} != {str(b)[:120]}")

    ours, theirs = before["strategies"], after["strategies"]
    compare("strategies", sorted(set(ours) - skip), sorted(set(theirs) - skip))
    for name in sorted((set(ours) & set(theirs)) - skip):
        a, b = ours[name], theirs[name]
        compare(f"{name}.status", a["status"], b["status"])
        compare(f"{name}.trials", len(a["trials"]), len(b["trials"]))
        for x, y in zip(a["trials"], b["trials"]):
            for key in TRIAL_FIELDS:
                compare(f"{name}.trial {x['number']}.{key}", x.get(key), y.get(key))
        for key in BEST_FIELDS:
            compare(f"{name}.best.{key}", (a.get("best") or {}).get(key), (b.get("best") or {}).get(key))
        compare(f"{name}.seed runs", len(a["seed_runs"]), len(b["seed_runs"]))
        for x, y in zip(a["seed_runs"], b["seed_runs"]):
            for key in SEED_RUN_FIELDS:
                compare(f"{name}.seed {x['seed']}.{key}", x.get(key), y.get(key))
    return compared, found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.same_results", description=__doc__.split("\n")[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--skip", default="", help="strategies to leave out, comma-separated")
    args = parser.parse_args(argv)
    with open(args.before) as a, open(args.after) as b:
        compared, found = differences(json.load(a), json.load(b), {s for s in args.skip.split(",") if s})
    print(f"{compared} fields compared, {len(found)} differ")
    for line in found:
        print("  " + line)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
