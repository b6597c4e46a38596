"""SIGKILL a real comparison process at several points — during a seed run, and at staggered moments
that land in trials, seed runs and results writes — then rerun: nothing finished is lost or repeated,
and results.json is never half-written."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runners.compare import main
from tests.conftest import sst2_dir
from tests.test_compare import counted

ROOT = Path(__file__).resolve().parent.parent
STUDY = "sst2-tiny-bert0-{}-smoke"


@pytest.fixture(scope="module")
def slow_data(tmp_path_factory) -> str:
    return sst2_dir(tmp_path_factory.mktemp("glue"), 1200)


def arguments(tiny_model, data, out) -> list[str]:
    return ["--task", "sst2", "--preset", "smoke", "--model", tiny_model, "--data-dir", data, "--out", str(out),
            "--strategies", "lora,bitfit", "--trials", "2", "--seeds", "2", "--train-size", "800", "--quiet",
            "--no-report"]


def launch(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "runners.compare", *args], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def states(out: Path) -> dict[str, int]:
    try:
        return counted(out)
    except sqlite3.Error:
        return {}


def assert_results_readable(out: Path) -> None:
    path = out / "results.json"
    if path.exists():
        results = json.loads(path.read_text())  # never truncated: written to a temp file, then renamed
        for record in results["strategies"].values():
            assert len(record["trials"]) <= 2 and len(record["seed_runs"]) <= 2


def assert_finished_exactly(out: Path) -> None:
    final = states(out)
    for strategy in ("lora", "bitfit"):
        name = STUDY.format(strategy)
        assert final.get(f"{name}:COMPLETE", 0) + final.get(f"{name}:PRUNED", 0) == 2, final
        assert final.get(f"{name}-seeds:COMPLETE", 0) == 2, final
        assert final.get(f"{name}:RUNNING", 0) == final.get(f"{name}-seeds:RUNNING", 0) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["complete"]
    for record in results["strategies"].values():
        assert sorted(r["seed"] for r in record["seed_runs"]) == [0, 1]


def test_sigkill_during_a_seed_run(tiny_model, slow_data, tmp_path):
    out = tmp_path / "seed-kill"
    args = arguments(tiny_model, slow_data, out)
    process = launch(args)
    deadline = time.time() + 240
    while time.time() < deadline and states(out).get(f"{STUDY.format('lora')}-seeds:RUNNING") != 1:
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = states(out)
    assert before.get(f"{STUDY.format('lora')}-seeds:RUNNING") == 1, before
    finished_seeds = before.get(f"{STUDY.format('lora')}-seeds:COMPLETE", 0)
    assert main(args) == 0
    after = states(out)
    assert after[f"{STUDY.format('lora')}-seeds:FAIL"] == 1
    assert after[f"{STUDY.format('lora')}-seeds:COMPLETE"] == 2 >= finished_seeds
    assert_finished_exactly(out)


def finished_runs(out: Path) -> int:
    return sum(count for key, count in states(out).items() if key.endswith((":COMPLETE", ":PRUNED")))


def test_repeated_sigkills_at_staggered_moments(tiny_model, slow_data, tmp_path):
    """Kill each process once it has finished one more run than the last one left (and a moment later, so the
    kill lands inside the next run or a results write): the kills land in different phases (trials, seed
    runs) on a fast machine as on a slow one. 8 runs in all (2 strategies × (2 trials + 2 seeds))."""
    out = tmp_path / "chaos"
    args = arguments(tiny_model, slow_data, out)
    kills = 0
    for extra_delay in (0.0, 0.3, 0.6):
        target = finished_runs(out) + 1 if (out / "optuna.db").exists() else 1
        process = launch(args)
        deadline = time.monotonic() + 120
        while process.poll() is None and finished_runs(out) < target and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(extra_delay)
        if process.poll() is not None:
            break  # finished before the kill
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
        assert_results_readable(out)
    assert kills >= 2
    assert main(args) == 0
    assert_finished_exactly(out)
