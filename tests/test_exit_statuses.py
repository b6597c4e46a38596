"""Exit statuses a script can rely on (peftbench.exits), run as a user runs the commands, in a subprocess.

A library failure inside a run is real here: the subprocess makes BitFit's per-step hook multiply tensors of
mismatched shapes, so torch raises its own RuntimeError in the middle of training (after the pre-flight model
build, which never calls the hook), exactly where a library bug would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from peftbench.exits import MEANINGS, Exit

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300
BROKEN_BITFIT = """
import sys
import torch
from peftbench import cli
from strategies.bitfit import BitFit

def broken_hook(self, model, step, total_steps):
    torch.ones(2) @ torch.ones(3)  # torch's own error, in the middle of training

BitFit.after_optimizer_step = broken_hook
module = __import__(f"runners.{sys.argv[1]}", fromlist=["main"])
cli.run_main(module.main, sys.argv[2:])
"""


def run_with_broken_bitfit(runner: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", BROKEN_BITFIT, runner, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)


def test_the_table_is_one_and_every_status_is_distinct():
    assert len({int(code) for code in Exit}) == len(Exit) and set(MEANINGS) == set(Exit)
    assert (Exit.OK, Exit.FAILED, Exit.BAD_INPUT) == (0, 1, 2)


def test_a_partial_comparison_writes_its_report_and_exits_with_its_own_status(tiny_model, data_dir, tmp_path):
    out = tmp_path / "run"
    process = run_with_broken_bitfit("compare", "--task", "sst2", "--preset", "smoke", "--model", tiny_model,
                                     "--data-dir", data_dir, "--strategies", "frozen,bitfit", "--trials", "1",
                                     "--seeds", "1", "--quiet", "--out", str(out))
    assert process.returncode == Exit.PARTIAL, process.stderr
    last = process.stdout.strip().splitlines()[-1]
    assert last.startswith("partial comparison: bitfit (no result: RuntimeError:"), last
    assert str(out / "compare.log") in last and "frozen" not in last
    assert "Traceback" not in process.stdout + process.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["partial"] == ["bitfit"] and results["complete"]
    bitfit = results["strategies"]["bitfit"]
    assert bitfit["status"] == "failed" and bitfit["seed_runs"] == []
    assert bitfit["error"]["message"].startswith("RuntimeError:") and bitfit["error"]["log"] == "compare.log"
    assert results["strategies"]["frozen"]["status"] == "done" and results["strategies"]["frozen"]["error"] is None
    report = (out / "report" / "report.md").read_text()
    assert "**Partial comparison:**" in report and "**bitfit** (failed, no result): `RuntimeError:" in report
    log = (out / "compare.log").read_text()
    assert "Traceback" in log and "broken_hook" in log


def test_a_library_failure_is_one_line_naming_the_strategy_and_the_log(tiny_model, data_dir, tmp_path):
    out = tmp_path / "run"
    args = ["--task", "sst2", "--model", tiny_model, "--data-dir", data_dir, "--strategy", "bitfit",
            "--train-size", "16", "--batch-size", "8", "--quiet", "--out", str(out)]
    process = run_with_broken_bitfit("train", *args)
    assert process.returncode == Exit.FAILED, process.stderr
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in process.stderr, process.stderr
    assert lines[0].startswith("failed: strategy bitfit: RuntimeError: ")
    assert f"(traceback in {out / 'train.log'}; --debug prints it here)" in lines[0]
    assert "broken_hook" in (out / "train.log").read_text()
    assert not (out / "result.json").exists()

    debug = run_with_broken_bitfit("train", *args, "--debug")
    assert debug.returncode == Exit.FAILED
    assert "Traceback (most recent call last)" in debug.stderr and "broken_hook" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1].startswith("failed: strategy bitfit: RuntimeError: ")


@pytest.mark.parametrize("runner", ["runners.compare", "runners.train", "runners.recommend", "runners.report",
                                    "runners.export"])
def test_help_lists_the_exit_statuses(runner):
    from tests.test_cli_train import run_cli

    process = run_cli(runner, "--help")
    assert process.returncode == 0
    assert "exit status:" in process.stdout and f"  2  {MEANINGS[Exit.BAD_INPUT]}" in process.stdout
    assert ("  3  partial" in process.stdout) == (runner == "runners.compare")


def test_the_compare_guides_table_is_the_module_table():
    guide = (ROOT / "docs" / "guides" / "compare.md").read_text(encoding="utf-8")
    table = guide.split("**Exit statuses**", 1)[1].split("\n\n", 2)[1]
    codes = [int(line.split("|")[1]) for line in table.splitlines()[2:]]
    assert codes == sorted(int(code) for code in Exit)
