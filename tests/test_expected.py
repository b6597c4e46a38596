"""reports.expected: the expected best dev score after n trials (Dodge et al. 2019; Tang et al. 2020), checked
against brute force over every subset (without replacement) and every sequence (with replacement) of a small
sample and against values worked out by hand; which trials count as i.i.d. draws; and the report's column,
CSV and figure recomputed from results.json."""

from __future__ import annotations

import csv
import itertools
import json
import statistics
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.expected import (WITHIN, draws, expected_max, expected_max_curve, max_weights, startup_trials,
                              trials_to_within)
from peftbench.schema import load_results
from tests.fixtures.make_results import make_results, write_run
from tests.test_cli_train import run_cli

SAMPLE = [0.1, 0.5, 0.3, 0.9]
# Worked by hand from the sorted sample 0.1 ≤ 0.3 ≤ 0.5 ≤ 0.9 (N = 4).
# Without replacement, E_n = mean of the max over the C(4, n) subsets:
#   n=2: maxes .3 .5 .9 .5 .9 .9 → 4.0/6;  n=3: .5 .9 .9 .9 → 3.2/4;  n=4: .9
# With replacement, weights ((i/4)^n − ((i−1)/4)^n):
#   n=2: (1, 3, 5, 7)/16 → (.1 + .9 + 2.5 + 6.3)/16 = 9.8/16
#   n=3: (1, 7, 19, 37)/64 → (.1 + 2.1 + 9.5 + 33.3)/64 = 45/64
#   n=4: (1, 15, 65, 175)/256 → (.1 + 4.5 + 32.5 + 157.5)/256 = 194.6/256
BY_HAND = {False: [0.45, 4.0 / 6, 0.8, 0.9], True: [0.45, 9.8 / 16, 45 / 64, 194.6 / 256]}


def brute_force(values: list[float], n: int, replacement: bool) -> tuple[float, float]:
    """Mean and (population) sd of max over every equally likely draw of n values."""
    draws_ = itertools.product(values, repeat=n) if replacement else itertools.combinations(values, n)
    maxima = [max(d) for d in draws_]
    return statistics.fmean(maxima), statistics.pstdev(maxima)


@pytest.mark.parametrize("replacement", [False, True])
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_closed_form_matches_brute_force_and_hand_values(n, replacement):
    estimate = expected_max(SAMPLE, n, replacement)
    mean, sd = brute_force(SAMPLE, n, replacement)
    assert estimate.n == n
    assert estimate.mean == pytest.approx(mean, abs=1e-12)
    assert estimate.mean == pytest.approx(BY_HAND[replacement][n - 1], abs=1e-12)
    assert estimate.sd == pytest.approx(sd, abs=1e-12)  # sqrt(E[max²] − E[max]²) under the same sampling


def test_weights_are_the_published_ones():
    """Tang et al.: C(i−1, n−1)/C(N, n); Dodge et al.: (i/N)^n − ((i−1)/N)^n; both sum to 1."""
    assert max_weights(4, 2) == [0, 1 / 6, 2 / 6, 3 / 6]
    assert max_weights(4, 2, replacement=True) == [1 / 16, 3 / 16, 5 / 16, 7 / 16]
    for count in range(1, 9):
        for n in range(1, count + 1):
            exact = [Fraction(w).limit_denominator(10**6) for w in max_weights(count, n)]
            assert sum(exact) == 1
            assert sum(max_weights(count, n + 3, replacement=True)) == pytest.approx(1)
    with pytest.raises(ValueError, match="at most the 4 values"):
        max_weights(4, 5)


def test_unbiased_ends_at_the_best_and_the_biased_one_below_it():
    curve = expected_max_curve(SAMPLE)
    assert [p.n for p in curve] == [1, 2, 3, 4]
    assert curve[0].mean == pytest.approx(statistics.fmean(SAMPLE))
    assert curve[-1].mean == max(SAMPLE) and curve[-1].sd == 0
    assert expected_max_curve(SAMPLE, replacement=True)[-1].mean < max(SAMPLE)  # the bias Tang et al. point out
    assert all(a.mean <= b.mean for a, b in zip(curve, curve[1:]))


def test_ties_are_counted_like_the_empirical_cdf():
    values = [0.8, 0.8, 0.7, 0.9, 0.8, 0.7]
    for n in range(1, len(values) + 1):
        for replacement in (False, True):
            mean, sd = brute_force(values, n, replacement)
            estimate = expected_max(values, n, replacement)
            assert (estimate.mean, estimate.sd) == (pytest.approx(mean), pytest.approx(sd, abs=1e-12))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.0, 1.0, allow_nan=False).map(lambda x: round(x, 3)), min_size=1, max_size=6))
def test_any_small_sample_matches_brute_force(values):
    for n in range(1, len(values) + 1):
        for replacement in (False, True):
            mean, sd = brute_force(values, n, replacement)
            estimate = expected_max(values, n, replacement)
            assert estimate.mean == pytest.approx(mean, abs=1e-12)
            assert estimate.sd == pytest.approx(sd, abs=1e-9)


def test_trials_to_within_half_a_point():
    # by hand: E_2 = (.82 + .84 + .85 + .84 + .85 + .85)/6 = 5.05/6, E_3 = (.84 + 3 · .85)/4 = .8475
    curve = expected_max_curve([0.80, 0.82, 0.84, 0.85])
    assert [p.mean for p in curve] == pytest.approx([0.8275, 5.05 / 6, 0.8475, 0.85])
    assert trials_to_within(curve) == 3  # 5.05/6 = .8417 < .845 ≤ .8475
    assert trials_to_within(curve, 0.01) == 2
    assert trials_to_within(curve, 0.0) == 4
    assert trials_to_within(expected_max_curve([0.7, 0.7, 0.7])) == 1
    assert WITHIN == 0.005


# ----------------------------------------------------------------------------- which trials are draws
def trial(number, state="COMPLETE", value=0.8, retry_of=None, intermediate=None):
    points = intermediate if intermediate is not None else ([[1000, value - 0.01], [2000, value]] if value else [])
    return {"number": number, "state": state, "params": {"lr": 1e-3}, "value": value if state == "COMPLETE" else None,
            "duration_seconds": 10.0, "samples_seen": 2000, "intermediate": points,
            "reason": None, "retry_of": retry_of}


def with_trials(tmp_path: Path, trials: list[dict], sampler: str, budget: int, **settings_):
    data = make_results(strategies=("lora",), seeds=1, trial_count=budget, sampler=sampler)
    data["strategies"]["lora"]["trials"] = trials
    data["settings"].update(settings_)
    results = load_results(write_run(tmp_path / "run", data))
    return draws(results, results.strategies["lora"])


def test_random_sampler_uses_every_trial_but_the_defaults(tmp_path):
    trials = [trial(0, value=0.85), trial(1, value=0.80),
              trial(2, "PRUNED", value=None, intermediate=[[500, 0.70], [1000, 0.72]]),
              trial(3, "FAIL", value=None), trial(4, value=0.83)]
    found = with_trials(tmp_path, trials, "random", 5)
    assert found.used == {1: 0.80, 2: 0.72, 4: 0.83}  # pruned: its best dev score before pruning
    assert found.pruned == [2] and found.failed == [3]
    assert found.defaults == {0: 0.85} and found.guided == []


def test_tpe_uses_only_trials_drawn_before_the_startup_trials_finished(tmp_path):
    """Budget 8: n_startup_trials = 4. A failed trial does not count as finished (Optuna counts COMPLETE and
    PRUNED), so trial 4 is still random; a retry re-runs the parameters drawn at its original number."""
    trials = [trial(0), trial(1, value=0.81), trial(2, "FAIL", value=None), trial(3, "PRUNED", value=None,
              intermediate=[[1000, 0.6]]), trial(4, value=0.82), trial(5, value=0.9), trial(6, value=0.88),
              trial(8, value=0.79, retry_of=1)]
    found = with_trials(tmp_path, [t for t in trials if t["number"] != 1], "tpe", 8)
    assert startup_trials(load_results(tmp_path / "run")) == 4
    # trial 1 was killed and re-run as 8: drawn at 1, before anything but the defaults had finished
    assert found.used == {3: 0.6, 4: 0.82, 8: 0.79}
    assert found.failed == [2] and found.guided == [5, 6] and found.defaults == {0: 0.8}


def test_a_retried_defaults_trial_is_still_the_defaults(tmp_path):
    found = with_trials(tmp_path, [trial(1, value=0.7), trial(2, value=0.84, retry_of=0)], "random", 2)
    assert found.defaults == {2: 0.84} and found.used == {1: 0.7}


def test_without_a_defaults_trial_the_first_trial_counts(tmp_path):
    found = with_trials(tmp_path, [trial(0, value=0.7), trial(1, value=0.8)], "random", 2, first_trial="sampled")
    assert found.used == {0: 0.7, 1: 0.8} and found.defaults == {}


@pytest.mark.parametrize("budget", [1, 2, 3, 4, 7, 8, 9, 20, 1000, 2_000_000])
def test_the_recorded_startup_trials_are_the_samplers(budget):
    """results.json records TPE's n_startup_trials (settings.startup_trials, which reports.expected reads) from
    the same property the comparison's TPESampler is built with."""
    from peftbench.config import TrainConfig
    from strategies.lora import Lora
    from studies.compare import Comparison, ComparisonSettings
    from studies.presets import PRESETS

    settings = ComparisonSettings(run=TrainConfig(), preset=PRESETS["quick"], strategies=[Lora], budget=budget)
    sampler = Comparison.sampler(SimpleNamespace(settings=settings), "lora")
    assert sampler._n_startup_trials == settings.startup_trials
    assert startup_trials(SimpleNamespace(settings={"startup_trials": settings.startup_trials})) == \
        settings.startup_trials


# ----------------------------------------------------------------------------- in the report
@pytest.fixture(scope="module")
def random_run(tmp_path_factory) -> Path:
    """Random search, 12 trials per strategy (the last one pruned), one strategy that failed entirely."""
    data = make_results(trial_count=12, sampler="random", failed=("qlora",))
    run = write_run(tmp_path_factory.mktemp("random") / "run", data)
    process = run_cli("runners.report", str(run))
    assert process.returncode == 0, process.stderr
    return run


def raw_draws(record: dict) -> list[float]:
    """The i.i.d. draws of a random-sampler study, straight from the JSON: every trial but the first (the
    defaults); a pruned trial at the best dev score it reported; failed trials left out."""
    values = []
    for t in record["trials"]:
        if t["number"] == 0 or t["state"] == "FAIL":
            continue
        values.append(t["value"] if t["state"] == "COMPLETE" else max(v for _, v in t["intermediate"]))
    return values


def with_replacement_by_ecdf(values: list[float], n: int) -> tuple[float, float]:
    """Dodge et al. written as in their paper: Σ_v v·(F(v)^n − F(v⁻)^n) over the distinct values, F the ECDF."""
    distinct = np.unique(values)
    below = np.array([np.mean(np.array(values) < v) for v in distinct])
    upto = np.array([np.mean(np.array(values) <= v) for v in distinct])
    p = upto ** n - below ** n
    mean = float(np.sum(p * distinct))
    return mean, float(np.sqrt(np.sum(p * distinct ** 2) - mean ** 2))


def test_expected_csv_matches_a_recomputation_from_results_json(random_run):
    strategies = json.loads((random_run / "results.json").read_text())["strategies"]
    with open(random_run / "report" / "expected.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted({r["strategy"] for r in rows}) == sorted(name for name in strategies if name != "qlora")
    for name, record in strategies.items():
        values = raw_draws(record)
        points = [r for r in rows if r["strategy"] == name]
        if name == "qlora":
            assert values == [] and points == []
            continue
        assert len(values) == 11 and [int(r["n"]) for r in points] == list(range(1, 12))
        for row in points:
            n = int(row["n"])
            assert int(row["iid_trials"]) == 11
            mean, sd = brute_force(values, n, replacement=False)  # every subset: at most C(11, 5) = 462
            assert float(row["expected_best_dev_accuracy"]) == pytest.approx(mean, abs=1e-12)
            assert float(row["sd"]) == pytest.approx(sd, abs=1e-9)
            mean, sd = with_replacement_by_ecdf(values, n)
            assert float(row["expected_best_dev_accuracy_with_replacement"]) == pytest.approx(mean, abs=1e-12)
            assert float(row["sd_with_replacement"]) == pytest.approx(sd, abs=1e-6)


def test_table_column_is_the_first_n_within_half_a_point(random_run):
    strategies = json.loads((random_run / "results.json").read_text())["strategies"]
    with open(random_run / "report" / "table.csv", newline="") as handle:
        table = {row["strategy"]: row for row in csv.DictReader(handle)}
    lines = [line.strip("| ").split(" | ")
             for line in (random_run / "report" / "table.md").read_text().splitlines() if line.startswith("| ")]
    column = lines[0].index("trials to within 0.5 pt")
    markdown = {cells[0].strip("*"): cells[column] for cells in lines[1:]}  # the top group is in bold
    for name, record in strategies.items():
        if name == "qlora":
            assert table[name]["trials_to_within_0.5pt"] == "" and table[name]["iid_trials"] == "0"
            continue
        values = raw_draws(record)
        best = max(values)
        expected = next(n for n in range(1, len(values) + 1)
                        if brute_force(values, n, replacement=False)[0] >= best - 0.005 - 1e-12)
        assert int(table[name]["trials_to_within_0.5pt"]) == expected
        assert float(table[name]["expected_best_dev_accuracy_all_iid_trials"]) == pytest.approx(best)
        assert markdown[name] == f"{expected} of 11"


def test_report_says_which_trials_count_and_draws_the_figure(random_run):
    import matplotlib.image

    report = random_run / "report"
    text = (report / "report.md").read_text()
    for fragment in ("## Expected best dev score against search budget", "sampled with `--sampler random`",
                     "Tang et al. (2020", "Dodge et al.'s (2019",
                     "runs the strategy's defaults: a fixed configuration, not a draw, so it is left out", "Pruned trials count at the best dev score they reached",
                     "Failed trials have no score", "| qlora | 0 | 0 | failed #0, #1, #2, #3, #4, #5, #6, #7, #8, "
                     "#9, #10, #11 | — | — | — | n/a (0 i.i.d. trials) |", "![Expected best dev accuracy"):
        assert fragment in text, fragment
    assert "(expected-best.png)" in text
    pixels = matplotlib.image.imread(report / "expected-best.png")
    assert pixels.shape[1] == round(3.3 * 300)
    assert pixels[..., :3].std() > 0.05
    assert (report / "expected-best.pdf").read_bytes()[:5] == b"%PDF-"


def test_tpe_report_names_the_startup_trials_and_the_random_sampler(tmp_path):
    run = write_run(tmp_path / "tpe", make_results(strategies=("lora", "full"), trial_count=20, seeds=2))
    process = run_cli("runners.report", str(run))
    assert process.returncode == 0, process.stderr
    text = (run / "report" / "report.md").read_text()
    assert "here min(4, max(1, budget ÷ 2)) = 4" in text
    assert "After the defaults trial that leaves 3 random trials per strategy" in text
    assert "run the comparison with `--sampler random`" in text
    assert "| lora | 3 | 0 | defaults #0; TPE-guided #4, #5, #6" in text
    assert (run / "report" / "expected-best.png").exists()
