"""Data-size sweeps: ``runners.compare --train-sizes`` for real on a tiny model (per-size comparisons, resume,
the report recomputed from the per-size results.json files), nested training subsets, the interpolation
against hand-computed values, ``runners.recommend --train-size`` on synthetic sweeps where the curves cross
beyond seed noise and where they don't, and bad input refused in one line with nothing written."""

from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
import statistics
from pathlib import Path

import numpy as np
import pytest

from peftbench.errors import UserError
from runners.compare import main
from tests.fixtures.make_results import make_sweep
from tests.test_cli_train import assert_one_line_error, run_cli

SIZES = {"24": 24, "all": 64}  # the smoke preset carves 32 of the toy set's 96 rows for dev: 64 remain
STRATEGIES = ("frozen", "bitfit")


def sweep_args(tiny_model, data_dir, out, *extra) -> list[str]:
    return ["--task", "sst2", "--preset", "smoke", "--model", tiny_model, "--data-dir", data_dir, "--out", str(out),
            "--strategies", ",".join(STRATEGIES), "--train-sizes", "all,24", "--trials", "3", "--seeds", "2",
            "--sampler", "random", "--pruner", "none", "--quiet", *extra]


def trial_counts(run: Path) -> dict[str, int]:
    with sqlite3.connect(run / "optuna.db") as db:
        rows = db.execute("SELECT s.study_name, t.state, COUNT(*) FROM trials t JOIN studies s "
                          "ON s.study_id = t.study_id GROUP BY s.study_name, t.state").fetchall()
    return {f"{name}:{state}": count for name, state, count in rows}


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


@pytest.fixture(scope="module")
def sweep(tiny_model, data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "run"
    assert main(sweep_args(tiny_model, data_dir, out)) == 0
    return out


def test_every_size_is_an_ordinary_comparison_on_the_same_splits(sweep):
    manifest = json.loads((sweep / "sweep.json").read_text())
    assert manifest["kind"] == "peftbench-sweep" and manifest["sizes"] == [24, "all"]
    assert manifest["directories"] == ["train-24", "train-all"]
    held_out = set()
    for label, examples in SIZES.items():
        results = json.loads((sweep / f"train-{label}" / "results.json").read_text())
        assert results["complete"] and results["settings"]["train_size"] == (None if label == "all" else examples)
        assert results["task"]["sizes"] == {"train": examples, "dev": 32, "test": 32}
        held_out.add(json.dumps(results["task"]["splits"]))
        for name in STRATEGIES:
            record = results["strategies"][name]
            assert record["study_name"] == f"sst2-tiny-bert0-{name}-smoke-train-{label}"
            assert len(record["trials"]) == 3 and sorted(r["seed"] for r in record["seed_runs"]) == [0, 1]
        assert (sweep / f"train-{label}" / "report" / "report.md").is_file()
    assert len(held_out) == 1  # the same dev and held-out splits at every size


def test_rerunning_the_sweep_runs_nothing_new(sweep, tiny_model, data_dir):
    before = {label: trial_counts(sweep / f"train-{label}") for label in SIZES}
    assert main(sweep_args(tiny_model, data_dir, sweep, "--no-report")) == 0
    assert {label: trial_counts(sweep / f"train-{label}") for label in SIZES} == before
    assert all(before[label][f"sst2-tiny-bert0-frozen-smoke-train-{label}:COMPLETE"] == 3 for label in SIZES)


def size_analysis(run: Path):
    """The engine's analysis of one size from its raw predictions, at the sweep's per-size error (2 sizes)."""
    from reports.confidence import RowValues, analyse

    results = json.loads((run / "results.json").read_text())
    labels = results["task"]["labels"]["test"]
    ids = np.arange(len(labels))
    predictions = {name: [RowValues(ids, np.array(r["predictions"]["test"])) for r in record["seed_runs"]]
                   for name, record in results["strategies"].items()}
    return analyse(predictions, RowValues(ids, np.array(labels)), "accuracy", alpha=0.05 / 2)


def seed_scores(run: Path, strategy: str) -> list[float]:
    results = json.loads((run / "results.json").read_text())
    return [r["metrics"]["test"]["accuracy"] for r in results["strategies"][strategy]["seed_runs"]]


def test_the_data_size_figure_and_table_recomputed_from_results(sweep):
    report = sweep / "report"
    for name in ("report.md", "data-size.png", "data-size.pdf", "expected-best.png", "expected-best.pdf",
                 "table.md", "table.csv", "table.tex", "data-size.csv", "expected.csv"):
        assert (report / name).is_file(), name
    figure = {(row["strategy"], row["size"]): row for row in read_csv(report / "data-size.csv")}
    table = {row["strategy"]: row for row in read_csv(report / "table.csv")}
    assert set(figure) == {(name, label) for name in STRATEGIES for label in SIZES}
    for name in STRATEGIES:
        for label, examples in SIZES.items():
            scores = seed_scores(sweep / f"train-{label}", name)
            mean, sd = statistics.fmean(scores), statistics.stdev(scores)
            row = figure[(name, label)]
            assert int(row["train_examples"]) == examples and int(row["seeds"]) == 2
            assert float(row["mean"]) == pytest.approx(mean) and float(table[name][f"{examples} mean"]) == pytest.approx(mean)
            assert float(table[name][f"{examples} std"]) == pytest.approx(sd)
            interval = size_analysis(sweep / f"train-{label}").scores[name]
            assert (float(row["interval_low"]), float(row["interval_high"])) == (
                pytest.approx(interval.low), pytest.approx(interval.high))
            assert float(row["interval_level"]) == pytest.approx(1 - 0.05 / 2)  # the 2 sizes judged together
            assert f"{mean:.3f} ± {sd:.3f}" in (report / "table.md").read_text()
    markdown = (report / "report.md").read_text()
    assert "![" in markdown and "(data-size.png)" in markdown and "(expected-best.png)" in markdown
    assert "](../train-24/report/report.md)" in markdown and "## Where the ranking changes" in markdown
    # the smoke preset: batches of 16 or 32, one epoch, no --min-steps, so 24 examples are 1 or 2 steps; the note
    # names the seed run with the fewest, as it recorded them
    runs = [run for record in json.loads((sweep / "train-24" / "results.json").read_text())["strategies"].values()
            for run in record["seed_runs"]]
    fewest = min(runs, key=lambda run: run["steps"])
    batch = fewest["hyperparameters"]["batch_size"]
    assert fewest["steps"] == math.ceil(24 / batch) and fewest["hyperparameters"]["epochs"] == 1
    assert (f"with 24 examples the shortest run (batches of {batch}) takes {fewest['steps']} optimiser steps; "
            "strategies that need many steps") in markdown


def test_the_expected_best_curves_recomputed_from_the_trials(sweep):
    """--sampler random, no pruning: the two trials after the defaults are i.i.d.; E[best of 1] is their mean
    and E[best of 2] their maximum (Tang et al.'s estimator at n = 1 and n = N)."""
    rows = read_csv(sweep / "report" / "expected.csv")
    for label, examples in SIZES.items():
        results = json.loads((sweep / f"train-{label}" / "results.json").read_text())
        for name in STRATEGIES:
            values = [t["value"] for t in results["strategies"][name]["trials"] if t["number"] != 0]
            curve = {int(r["n"]): float(r["expected_best_dev_accuracy"]) for r in rows
                     if r["strategy"] == name and r["size"] == label}
            assert int(next(r for r in rows if r["strategy"] == name and r["size"] == label)["train_examples"]) == examples
            assert curve == {1: pytest.approx(statistics.fmean(values)), 2: pytest.approx(max(values))}


def test_training_subsets_are_nested(data_dir):
    from peftbench.tasks import TaskRequest, load_task

    subsets = [set(load_task(TaskRequest("sst2", data_dir, train_size=size, carve_size=32, seed=0)).train["sentence"])
               for size in (8, 24, 48)]
    assert subsets[0] < subsets[1] < subsets[2]


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("sizes,fragment", [
    ("24,abc", "--train-sizes: 'abc' is not a positive whole number or 'all'"),
    ("24,0", "--train-sizes: '0' is not a positive whole number"),
    ("24,all,24", "--train-sizes names 24 twice"),
    ("24", "--train-sizes needs at least two sizes; for one comparison use --train-size N"),
    ("24,1000", "--train-sizes: 1,000 is more than the 64 training examples sst2 has"),
    ("64,all", "--train-sizes: 64 is all of the 64 training examples sst2 has"),
])
def test_bad_sizes_are_refused_before_anything_is_written(sizes, fragment, tiny_model, data_dir, tmp_path):
    args = sweep_args(tiny_model, data_dir, tmp_path / "bad")
    args[args.index("--train-sizes") + 1] = sizes
    with pytest.raises(UserError, match=fragment.replace("(", r"\(")):
        main(args)
    assert not (tmp_path / "bad").exists()


def test_bad_sizes_on_the_command_line_are_one_line_and_exit_2(tiny_model, data_dir, tmp_path):
    process = run_cli("runners.compare", *sweep_args(tiny_model, data_dir, tmp_path / "bad"), "--train-size", "24")
    assert_one_line_error(process, "give --train-size N (one comparison) or --train-sizes LIST (a sweep), not both")
    assert not (tmp_path / "bad").exists()


# ----------------------------------------------------------------------------- synthetic sweeps: interpolation, crossings
CROSSING = {  # bitfit leads beyond seed noise with 100 examples, full with 2,000
    "bitfit": {100: [0.70, 0.71, 0.72], 500: [0.78, 0.79, 0.80], 1000: [0.82, 0.83, 0.81], 2000: [0.84, 0.85, 0.84]},
    "full": {100: [0.60, 0.62, 0.61], 500: [0.76, 0.78, 0.77], 1000: [0.84, 0.85, 0.83], 2000: [0.88, 0.89, 0.90]},
}
LEVEL = {  # the order of the means flips, but within seed noise at both sizes
    "bitfit": {100: [0.70, 0.72, 0.74], 2000: [0.84, 0.86, 0.88]},
    "full": {100: [0.71, 0.72, 0.725], 2000: [0.855, 0.865, 0.87]},
}


@pytest.fixture(scope="module")
def crossing(tmp_path_factory):
    return make_sweep(tmp_path_factory.mktemp("crossing") / "sweep", CROSSING)


@pytest.fixture(scope="module")
def level(tmp_path_factory):
    return make_sweep(tmp_path_factory.mktemp("level") / "sweep", LEVEL)


def test_interpolation_between_sizes_by_hand(crossing):
    from reports.conclusions import conclude_between
    from reports.sweep import candidates_at, load_sweep, locate, log_weight
    from reports.tables import main_table

    sweep = load_sweep(crossing)
    weight = math.log(3) / math.log(5)  # 300 between 100 and 500 on a log scale
    assert log_weight(300, 100, 500) == pytest.approx(weight) == pytest.approx(0.682606, abs=1e-6)
    position = locate(sweep, 300)
    assert (position.lower.examples, position.upper.examples, position.extrapolated) == (100, 500, False)
    assert position.nearer is position.upper and position.weight == pytest.approx(weight)
    ranked, missing, between = candidates_at(sweep, position)
    assert not missing and [c.strategy for c in ranked] == ["bitfit", "full"] == between.order
    bitfit, full = ranked
    _, scores = conclude_between(position.lower.results, position.upper.results, weight)
    assert scores["bitfit"] == pytest.approx([0.70 + 0.08 * weight, 0.71 + 0.08 * weight, 0.72 + 0.08 * weight])
    # the interpolated predictions are judged: bitfit's interval, from its blended per-row values
    assert between.per_row and bitfit.rows[0].interval == between.analysis.scores["bitfit"]
    assert bitfit.rows[0].interval.contains(bitfit.score) and "interpolated between two sizes" in between.analysis.method
    assert bitfit.score == pytest.approx(0.764609, abs=1e-6) and full.score == pytest.approx(0.719217, abs=1e-6)
    assert bitfit.rows[0].score.std == pytest.approx(0.01) and full.rows[0].score.std == pytest.approx(0.01)
    rows = {point.examples: {row.strategy: row for row in main_table(point.results).rows} for point in sweep.points}
    # training time linear in examples (half-way from 100 to 500); parameters those of the nearer size, 500
    assert full.rows[0].train_seconds == pytest.approx((rows[100]["full"].train_seconds
                                                        + rows[500]["full"].train_seconds) / 2)
    assert full.rows[0].trainable_params == rows[500]["full"].trainable_params


def test_measured_and_outside_sizes(crossing):
    from reports.sweep import candidates_at, load_sweep, locate

    sweep = load_sweep(crossing)
    measured, below, above = locate(sweep, 1000), locate(sweep, 50), locate(sweep, 5000)
    assert measured.measured and measured.lower.examples == 1000
    assert below.extrapolated and below.lower.examples == 100 and above.extrapolated and above.lower.examples == 2000
    assert candidates_at(sweep, above)[0][0].score == pytest.approx(statistics.fmean(CROSSING["full"][2000]))
    assert "**Extrapolation:** 5,000 training examples is above the largest measured size" in above.describe(sweep)


def test_the_crossing_beyond_noise_is_found(crossing, level):
    """Every size judged at 0.05 / 4: at 500 and 1,000 the 2-point gaps are undetermined (their intervals reach
    past 0 and past the 5-point margin), so the evidence is bitfit better at 100 and full better at 2,000."""
    from reports.sweep import crossings, judged, load_sweep

    sweep = load_sweep(crossing)
    concluded = judged(sweep)
    assert all(c.analysis.alpha == pytest.approx(0.05 / 4) for c in concluded)
    assert [c.analysis.pairs[0].verdict for c in concluded] == ["better", "undetermined", "undetermined", "better"]
    (found,) = crossings(sweep, concluded)
    assert (found.before.examples, found.after.examples, found.first, found.second) == (500, 1000, "bitfit", "full")
    assert found.leader_change and found.beyond_noise
    assert found.first_ahead.point.examples == 100 and found.first_ahead.pair.winner == "bitfit"
    assert found.second_ahead.point.examples == 2000 and found.second_ahead.pair.difference.estimate == pytest.approx(
        statistics.fmean(CROSSING["full"][2000]) - statistics.fmean(CROSSING["bitfit"][2000]))
    (within,) = crossings(load_sweep(level), judged(load_sweep(level)))
    assert (within.first, within.second) == ("bitfit", "full") and not within.beyond_noise
    assert within.first_ahead is None and within.second_ahead is None


def test_the_sweep_report_says_where_the_ranking_changes(crossing, level):
    from reports.sweep_render import write_sweep_report

    text = write_sweep_report(crossing).read_text()
    assert "| 500 → 1,000 | bitfit above full, then below (the leader changes) | **yes** |" in text
    assert "1 change of order between neighbouring sizes; 1 beyond noise" in text
    assert "| 100 | bitfit 0.710 | none: it is better than every other |" in text
    assert "| 500 | bitfit 0.790 | full (undetermined) |" in text
    assert "each of the 4 sizes at a family-wise error of 0.0125, 0.05 over the sizes" in text
    assert "### Every pair at every size" in text and "| 2,000 | full | bitfit | +0.047 |" in text
    text = write_sweep_report(level).read_text()
    assert "| 100 → 2,000 | bitfit above full, then below (the leader changes) | no |" in text


def recommend_text(capsys, *args: str, status: int = 0) -> str:
    from runners.recommend import main as recommend

    assert recommend(list(args)) == status
    return capsys.readouterr().out


def test_recommendations_differ_where_the_curves_cross_beyond_noise(crossing, capsys):
    small = recommend_text(capsys, str(crossing), "--train-size", "100")
    large = recommend_text(capsys, str(crossing), "--train-size", "2000")
    assert "**Use bitfit**" in small and "**Use full**" in large
    assert "Why: every other candidate that meets the constraints is shown worse than another" in small + large
    assert "100 training examples is a measured size" in small
    between = recommend_text(capsys, str(crossing), "--train-size", "300")
    assert "300 training examples lies between the measured 100 and 500" in between
    assert "| bitfit | 0.765 [" in between and "**Use bitfit**" in between
    # between 500 and 1,000 (2 points apart either way) one size alone, one pair: equivalent within 5 points
    middle = recommend_text(capsys, str(crossing), "--train-size", "700")
    assert "Why: bitfit and full are equivalent within ±0.05" in middle and "**Use bitfit**" in middle
    capped = recommend_text(capsys, str(crossing), "--train-size", "2000", "--max-trainable-params", "1M")
    assert "**Use bitfit**" in capped and "- full: trainable parameters 22.6M > 1M" in capped


def test_equivalent_where_they_do_not_differ(level, capsys):
    """The level sweep: the two are within a point at both ends; one size's one pair, judged alone, lies inside
    ±5 points: equivalent, and the far cheaper bitfit is recommended. (The sweep's report, judging both sizes
    together at 0.025 each, calls the same pairs undetermined.)"""
    for size in ("100", "2000"):
        text = recommend_text(capsys, str(level), "--train-size", size)
        first, second = ("bitfit", "full") if size == "100" else ("full", "bitfit")
        assert f"Why: {first} and {second} are equivalent within ±0.05" in text
        assert "**Use bitfit**" in text and "bitfit trains 30.2k parameters" in text


def test_without_train_size_a_sweep_answers_at_its_largest_size(crossing, capsys):
    text = recommend_text(capsys, str(crossing))
    assert text.startswith("No --train-size given: the answer at the largest measured size, 2,000 training examples")
    assert "**Use full**" in text


def test_train_size_on_a_single_comparison_is_refused(crossing):
    single = crossing / "train-500"
    process = run_cli("runners.recommend", str(single), "--train-size", "300")
    assert_one_line_error(process, f"--train-size needs a data-size sweep (python -m runners.compare --train-sizes "
                                   f"100,500,1000,2000 ...); {single} measured 500 training examples")


def test_a_sweep_and_a_single_comparison_keep_to_their_own_directories(sweep, tiny_model, data_dir):
    single = sweep_args(tiny_model, data_dir, sweep)
    at = single.index("--train-sizes")
    single[at:at + 2] = ["--train-size", "24"]
    with pytest.raises(UserError, match="holds a data-size sweep; run it with --train-sizes, or use another --out"):
        main(single)
    with pytest.raises(UserError, match="holds a single comparison, not a data-size sweep; use another --out"):
        main(sweep_args(tiny_model, data_dir, sweep / "train-24"))


def test_sizes_share_one_storage_under_their_own_study_names(tiny_model, data_dir, tmp_path):
    import optuna

    journal = tmp_path / "sweep.journal"
    args = sweep_args(tiny_model, data_dir, tmp_path / "shared", "--storage", str(journal), "--no-report")
    args[args.index("--strategies") + 1], args[args.index("--trials") + 1] = "frozen", "1"
    args[args.index("--seeds") + 1] = "1"
    assert main(args) == 0
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    names = sorted(study.study_name for study in optuna.get_all_study_summaries(storage))
    assert names == [f"sst2-tiny-bert0-frozen-smoke-train-{label}{suffix}" for label in ("24", "all")
                     for suffix in ("", "-seeds")]
    assert not (tmp_path / "shared" / "train-24" / "optuna.db").exists()


def test_a_partial_sweep_is_reported_and_a_broken_manifest_refused(tmp_path):
    from reports.sweep import load_sweep
    from reports.sweep_render import write_sweep_report

    partial = make_sweep(tmp_path / "partial", LEVEL)
    manifest = json.loads((partial / "sweep.json").read_text())
    (partial / "sweep.json").write_text(json.dumps({**manifest, "sizes": [100, 2000, "all"]}))
    assert [p.examples for p in load_sweep(partial).points] == [100, 2000] and load_sweep(partial).pending == [None]
    assert "> **Partial sweep:** size all not measured yet" in write_sweep_report(partial).read_text()
    (partial / "sweep.json").write_text(json.dumps({**manifest, "sizes": [100, -5]}))
    process = run_cli("runners.recommend", str(partial), "--train-size", "300")
    assert_one_line_error(process, "sweep.json: sizes must be a list of positive whole numbers and 'all'")
