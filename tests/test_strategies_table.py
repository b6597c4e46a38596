"""docs/strategies.md and its script (benchmarks/strategies_table.py): every registered strategy is measured there
and its defaults beat the majority class by their score's binomial interval; the interval is Wilson's; the script
runs end to end (a smoke comparison on the tiny model) and its table reads the defaults trial's own record."""

from __future__ import annotations

import json
import math

import pytest

from benchmarks.strategies_table import BELOW_MAJORITY_WHY, DATA, DOC, majority_share, wilson_interval
from strategies import STRATEGIES


def test_every_registered_strategy_is_measured_and_each_below_the_majority_class_is_diagnosed():
    table = json.loads(DATA.read_text())
    rows = {row["name"]: row for row in table["rows"]}
    assert sorted(set(STRATEGIES) - set(rows)) == [], "registered but never measured: run benchmarks.strategies_table"
    majority = table["majority"]["dev"]
    below = DOC.read_text().split("## Below the majority class at the defaults", 1)[1]
    for name in STRATEGIES:
        row = rows[name]
        dev = table["sizes"]["dev"]
        if row["defaults_dev"] is not None:
            assert row["defaults_low"] == pytest.approx(wilson_interval(round(row["defaults_dev"] * dev), dev)[0])
        assert row["beats_majority"] == (row["defaults_low"] is not None and row["defaults_low"] > majority)
        if not row["beats_majority"]:
            assert f"**{name}**" in below and BELOW_MAJORITY_WHY.get(name), f"{name} is below the majority class"


@pytest.mark.parametrize("successes,n,low,high", [
    (50, 100, 0.4038, 0.5962),  # p = 0.5: symmetric
    (0, 10, 0.0, 0.2775),  # p = 0: the interval stays inside [0, 1] where p ± z·se would give [0, 0]
    (818, 1000, 0.7929, 0.8407),
])
def test_wilson_interval(successes, n, low, high):
    got = wilson_interval(successes, n)
    assert got == pytest.approx((low, high), abs=1e-4)
    p = successes / n
    assert got[0] <= p <= got[1]


def test_majority_share_is_the_most_common_labels_share():
    assert majority_share([1, 0, 1, 1]) == 0.75
    assert math.isclose(majority_share([0] * 3 + [1] * 2 + [2] * 5), 0.5)


def test_the_script_runs_a_comparison_and_writes_the_table_from_it(tiny_model, data_dir, tmp_path):
    from benchmarks.strategies_table import main

    doc = tmp_path / "strategies.md"
    assert main(["--out", str(tmp_path / "run"), "--preset", "smoke", "--model", tiny_model, "--data-dir", data_dir,
                 "--strategies", "frozen,lora", "--trials", "2", "--seeds", "2", "--doc", str(doc)]) == 0
    table = json.loads(doc.with_suffix(".json").read_text())
    run = json.loads((tmp_path / "run" / "table-run.json").read_text())
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert [row["name"] for row in table["rows"]] == ["frozen", "lora"] and run["wall_seconds"] > 0
    for row in table["rows"]:
        first = results["strategies"][row["name"]]["trials"][0]
        assert row["defaults_dev"] == first["value"] and row["trials"] == 2
        assert row["trainable_params"] > 0 and row["train_seconds"] > 0
        assert row["tuned_dev"] == results["strategies"][row["name"]]["best"]["value"] >= row["defaults_dev"]
    text = doc.read_text()
    assert "| frozen | selective | 130 |" in text and "| lora |" in text  # the head: 64 × 2 + 2
    assert "Majority class" in text and "wall time" in text


def test_the_defaults_trial_is_the_retry_of_the_first_where_a_kill_interrupted_it():
    from benchmarks.strategies_table import defaults_trial

    trials = [{"number": 0, "state": "FAIL", "retry_of": None}, {"number": 1, "state": "COMPLETE", "retry_of": None},
              {"number": 4, "state": "COMPLETE", "retry_of": 0}]
    assert defaults_trial(trials)["number"] == 4
    assert defaults_trial(trials[:2])["state"] == "FAIL"  # interrupted and not yet run again: no defaults score
    assert defaults_trial([{"number": 0, "state": "COMPLETE"}])["number"] == 0
