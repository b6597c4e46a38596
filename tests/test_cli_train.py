"""``python -m runners.train`` as a user runs it: bad input is one line on stderr and exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path = ROOT, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def assert_one_line_error(process: subprocess.CompletedProcess, fragment: str) -> None:
    assert process.returncode == 2, process.stderr
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1, process.stderr
    assert "Traceback" not in process.stderr
    assert fragment in lines[0]


def test_help_explains_every_flag_and_lists_strategies_on_request():
    process = run_cli("runners.train", "--help")
    assert process.returncode == 0
    for text in ("--task", "--strategy", "--model", "--data-dir", "--train-size", "--epochs", "--batch-size", "--lr",
                 "--seed", "--out", "--device", "--pooling", "--gradient-checkpointing", "--list-strategies"):
        assert text in process.stdout
    from peftbench.strategy import FAMILIES
    from strategies import STRATEGIES

    for runner in ("runners.train", "runners.compare"):
        listing = run_cli(runner, "--list-strategies")
        assert listing.returncode == 0, listing.stderr
        lines = listing.stdout.splitlines()
        for name, cls in STRATEGIES.items():  # under its family's heading, with its summary and every hyperparameter
            row = next(i for i, line in enumerate(lines) if line.split()[:1] == [name])
            heading = next(line for line in reversed(lines[:row]) if not line.startswith(" "))
            assert heading.startswith(f"{cls.family}: {FAMILIES[cls.family]}") and cls.summary in lines[row]
            assert all(any(h.describe() in line for line in lines[row:]) for h in (cls.learning_rate, *cls.hyperparameters))
        for text in ("rank=8", "decay=0.9", "placement=houlsby"):
            assert text in listing.stdout


@pytest.mark.parametrize("args,fragment", [
    (["--strategy", "nope"], "unknown strategy 'nope'"),
    (["--task", "sst9"], "unknown task 'sst9'"),
    (["--lr", "-1"], "--lr: must be a positive finite number"),
    (["--epochs", "0"], "--epochs: must be a positive integer"),
    (["--seed", "-1"], "--seed: must be 0 or a positive integer"),
    (["--strategy", "lora", "--param", "rank=0"], "rank=0 is outside its valid range"),
    (["--strategy", "llrd", "--param", "decay=1.5"], "decay=1.5 is outside"),
    (["--param", "rank"], "--param takes NAME=VALUE"),
    (["--warmup-ratio", "2"], "warmup ratio must be in [0, 1)"),
    (["--no-such-flag"], "unrecognized arguments"),
])
def test_bad_arguments(args, fragment, tmp_path):
    process = run_cli("runners.train", *args, "--out", str(tmp_path / "out"))
    assert_one_line_error(process, fragment)
    assert not (tmp_path / "out").exists()


def test_bad_data_file_and_model(tmp_path, tiny_model, data_dir):
    data = tmp_path / "mine.tsv"
    data.write_text("text\tlabel\nfine\t1\nbroken row\n")
    assert_one_line_error(run_cli("runners.train", "--task", str(data), "--out", str(tmp_path / "o1")),
                          "mine.tsv:3: expected 2 fields")
    # with the task's data at hand (the test's own, not whatever the machine keeps), only the model is wrong
    assert_one_line_error(run_cli("runners.train", "--model", str(tmp_path / "missing"), "--data-dir", data_dir,
                                  "--out", str(tmp_path / "o2")),
                          "neither a local directory nor loadable")
    assert not (tmp_path / "o1" / "result.json").exists() and not (tmp_path / "o2" / "result.json").exists()


def test_a_run_prints_and_writes_its_record(tmp_path, tiny_model, data_dir):
    out = tmp_path / "run"
    process = run_cli("runners.train", "--task", "rte", "--strategy", "bitfit", "--model", tiny_model, "--data-dir",
                      data_dir, "--out", str(out), "--quiet")
    assert process.returncode == 0, process.stderr
    printed = json.loads(process.stdout)
    assert printed == json.loads((out / "result.json").read_text())
    assert printed["strategy"] == "bitfit" and printed["task"] == "rte"
    assert (out / "trained.safetensors").is_file()
    assert "bitfit: dev accuracy" in process.stderr
    again = run_cli("runners.train", "--task", "rte", "--model", tiny_model, "--data-dir", data_dir, "--out", str(out))
    assert_one_line_error(again, "already holds a finished run")
