"""``python -m runners.report`` on realistic results.json files (tests/fixtures/make_results.py): every
table number recomputed here from the raw JSON with numpy/scipy, every figure present as PDF and PNG and
not blank, the one-seed and failed-strategy cases stated rather than faked, several comparisons combined,
reports replaced whole or not at all, and bad input answered with one line and exit code 2."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats

from peftbench.records import SplitSources
from peftbench.schema import load_results
from reports import plots, render
from reports.conclusions import SCORES_ONLY, VERDICT_MEANINGS, ranked_split
from reports.recommend import recommend
from reports.tables import main_table
from tests.fixtures.make_results import make_results, smoke_results, variant, without_predictions, write_run
from tests.test_cli_train import assert_one_line_error, run_cli

FIGURES = ("tradeoff-params", "tradeoff-memory", "tradeoff-time", "seeds", "tradeoff-latency", "tradeoff-panels",
           "confusion", "learning-curves", "history")  # and importance, only with enough trials (below)
WIDE_FIGURES = ("tradeoff-panels",)  # across both columns of a paper
PAPER_DPI, PAPER_WIDTH, PAPER_WIDE_WIDTH, SLIDES_DPI, SLIDES_WIDTH = 300, 3.3, 6.9, 150, 8.0


@pytest.fixture(scope="module")
def sst2(tmp_path_factory) -> Path:
    """A 7-strategy × 3-seed comparison with its report written by the command line."""
    run = write_run(tmp_path_factory.mktemp("sst2") / "run", make_results())
    process = run_cli("runners.report", str(run))
    assert process.returncode == 0, process.stderr
    assert process.stdout.strip() == str(run / "report" / "report.md")
    return run


@pytest.fixture(scope="module")
def combined(tmp_path_factory) -> tuple[Path, Path, Path]:
    """sst2 and rte (where qlora failed) reported together, slides style."""
    root = tmp_path_factory.mktemp("combined")
    sst2 = write_run(root / "sst2", make_results())
    rte = write_run(root / "rte", make_results(task="rte", failed=("qlora",)))
    process = run_cli("runners.report", str(sst2), str(rte), "--style", "slides", "--out", str(root / "both"))
    assert process.returncode == 0, process.stderr
    return sst2, rte, root / "both"


def raw_strategies(run: Path) -> dict:
    return json.loads((run / "results.json").read_text())["strategies"]


def by_seed(record: dict, split: str) -> dict[int, float]:
    return {r["seed"]: r["metrics"][split]["accuracy"] for r in record["seed_runs"]}


def table_csv(directory: Path) -> dict[str, dict[str, str]]:
    with open(directory / "table.csv", newline="") as handle:
        return {row["strategy"]: row for row in csv.DictReader(handle)}


def markdown_rows(path: Path) -> dict[str, list[str]]:
    rows = [line.strip("|").split(" | ") for line in path.read_text().splitlines() if line.startswith("| ")]
    return {cells[0].strip().strip("*"): [c.strip() for c in cells] for cells in rows[1:]}


def raw_analysis(run: Path, split: str = "test"):
    """The engine's analysis of the raw results.json, straight from its predictions and labels."""
    from reports.confidence import RowValues, analyse

    data = json.loads((run / "results.json").read_text())
    labels = data["task"]["labels"][split]
    ids = np.arange(len(labels))
    predictions = {name: [RowValues(ids, np.array(r["predictions"][split])) for r in record["seed_runs"]]
                   for name, record in data["strategies"].items() if record["seed_runs"]}
    return analyse(predictions, RowValues(ids, np.array(labels)), data["task"]["metric"])


COLUMNS = ["strategy", "family", "score", "interval", "macro recall", "macro F1", "dev", "trainable", "trainable %",
           "peak memory", "train time", "samples/s", "artifact", "trials to within", "selection optimism",
           "dev − held-out", "flags", "latency", "merged latency", "throughput", "inference memory"]


def column(name: str) -> int:
    return COLUMNS.index(name)


def test_table_numbers_match_a_recomputation_from_results_json(sst2):
    """Every number of table.csv from the raw JSON: means and spreads with numpy, the interval, top group and
    learned flag from the engine run on the raw predictions, the beside metrics from peftbench.metrics' values."""
    table = table_csv(sst2 / "report")
    strategies = raw_strategies(sst2)
    assert sorted(table) == sorted(strategies)
    analysis = raw_analysis(sst2)
    assert list(table) == analysis.ranking  # best first, as the engine ranks
    for name, record in strategies.items():
        text = ("strategy", "status", "family", "top_group", "learned", "defaults_chosen", "selection_optimism_beyond_noise",
                "dev_minus_held_out_beyond_noise", "merged_predictions_equal", "merge_note")
        row = {k: float(v) if v and k not in text else v for k, v in table[name].items()}
        held = by_seed(record, "test")
        values = np.array([held[s] for s in sorted(held)])
        assert row["held_out_accuracy_mean"] == pytest.approx(values.mean())
        assert row["held_out_accuracy_std"] == pytest.approx(values.std(ddof=1))
        interval = analysis.scores[name]
        assert (row["held_out_accuracy_interval_low"], row["held_out_accuracy_interval_high"]) == (
            pytest.approx(interval.low), pytest.approx(interval.high))
        assert row["top_group"] == str(name in analysis.top_group) and row["learned"] == "True"
        assert row["defaults_chosen"] == str(record["best"]["trial"] == 0)
        for metric in ("recall", "macro_f1"):
            assert row[f"held_out_{metric}_mean"] == pytest.approx(
                np.mean([r["metrics"]["test"][metric] for r in record["seed_runs"]]))
        assert row["dev_accuracy_mean"] == pytest.approx(np.mean(list(by_seed(record, "dev").values())))
        runs = record["seed_runs"]
        assert row["trainable_params"] == runs[0]["trainable_params"]
        assert row["trainable_percent"] == pytest.approx(100 * runs[0]["trainable_params"] / runs[0]["total_params"])
        assert row["peak_memory_bytes"] == max(r["peak_memory_bytes"] for r in runs)
        assert row["train_seconds_mean"] == pytest.approx(np.mean([r["train_seconds"] for r in runs]))
        throughput = np.mean([r["train_samples_per_second"] for r in runs])
        assert row["train_samples_per_second_mean"] == pytest.approx(throughput)
        assert row["artifact_bytes"] == runs[0]["artifact_bytes"]
        inference = runs[0]["inference"]  # measured on seed 0 only
        assert all(r["inference"] is None for r in runs[1:])
        assert row["latency_b1_ms"] == inference["as_trained"]["latency_ms"]
        assert row["throughput"] == inference["as_trained"]["throughput"]
        assert row["inference_memory_bytes"] == inference["as_trained"]["memory_bytes"]
        merged = inference["merged"]
        assert row["merged_latency_b1_ms"] == (merged["latency_ms"] if merged else "")
        assert row["merge_note"] == (inference["merge_note"] or "")
        # TPE, 4 trials, recorded n_startup_trials = 2 (the fixture's), so after the defaults (trial 0) only
        # trial 1 was drawn at random: one i.i.d. trial, too few for a curve (tests/test_expected.py has them)
        assert row["iid_trials"] == 1 and row["trials_to_within_0.5pt"] == ""
    assert not any(key.startswith(("p_vs", "diff_vs")) for key in next(iter(table.values())))


def test_markdown_table_rounds_the_csv_and_bolds_the_top_group(sst2):
    rows = markdown_rows(sst2 / "report" / "table.md")
    numbers = table_csv(sst2 / "report")
    assert list(rows) == list(numbers) and len(rows) == 7
    for name, cells in rows.items():
        mean, sd = float(numbers[name]["held_out_accuracy_mean"]), float(numbers[name]["held_out_accuracy_std"])
        assert cells[column("family")] == numbers[name]["family"]
        assert cells[column("score")].strip("*") == f"{mean:.3f} ± {sd:.3f}"
        low, high = (float(numbers[name][f"held_out_accuracy_interval_{end}"]) for end in ("low", "high"))
        assert cells[column("interval")].strip("*") == f"[{low:.3f}, {high:.3f}]"
        top = numbers[name]["top_group"] == "True"
        assert cells[column("strategy")].startswith("**") == cells[column("score")].startswith("**") == top
        assert cells[column("flags")] == ("defaults" if numbers[name]["defaults_chosen"] == "True" else "—")
    assert [n for n in rows if numbers[n]["top_group"] == "True"] == ["llrd", "full", "adapters", "lora"]
    assert rows["frozen"][column("trainable")] == "**770**" and rows["frozen"][column("peak memory")].startswith("**")
    assert not any("p=" in cell for cells in rows.values() for cell in cells)  # no second statistical decision


def test_optimism_matches_a_recomputation_from_results_json(sst2):
    """Selection optimism: the best trial's dev score minus the mean dev score of its seed re-runs, † where it
    exceeds the seed spread (pooled over strategies, one-sided, Bonferroni); dev − held-out: the re-runs' dev mean
    minus their held-out mean, ‡ where it exceeds both scores' standard errors combined (two-sided, Bonferroni)."""
    table = table_csv(sst2 / "report")
    rows = markdown_rows(sst2 / "report" / "table.md")
    raw = raw_strategies(sst2)
    dev_scores = {name: np.array(list(by_seed(record, "dev").values())) for name, record in raw.items()}
    pooled = np.mean([scores.var(ddof=1) for scores in dev_scores.values()])  # 3 runs each: equal weights
    dev, held = raw_analysis(sst2, "dev"), raw_analysis(sst2)
    for name, record in raw.items():
        row = table[name]
        selection = record["best"]["value"] - dev_scores[name].mean()
        own = dev_scores[name].var(ddof=1)
        variance, df = (own, 2) if own > pooled else (pooled, 14)
        error = np.sqrt(variance * (1 + 1 / 3))  # the fixture's trials are not among the seed runs
        flagged = bool(selection > scipy_stats.t.ppf(1 - 0.05 / 7, df) * error)
        assert float(row["dev_accuracy_best_trial"]) == record["best"]["value"]
        assert float(row["selection_optimism"]) == pytest.approx(selection)
        assert float(row["selection_optimism_se"]) == pytest.approx(error)
        assert row["selection_optimism_beyond_noise"] == str(flagged)
        assert rows[name][column("selection optimism")] == f"{'+' if selection >= 0 else '−'}{abs(selection):.3f}" \
            + (" †" if flagged else "")
        gap = dev_scores[name].mean() - np.mean(list(by_seed(record, "test").values()))
        error = np.hypot(dev.scores[name].standard_error, held.scores[name].standard_error)
        df = min(dev.scores[name].df, held.scores[name].df)
        assert float(row["dev_minus_held_out"]) == pytest.approx(gap)
        assert row["dev_minus_held_out_beyond_noise"] == str(bool(abs(gap) > scipy_stats.t.ppf(1 - 0.05 / 14, df) * error))
    notes = (sst2 / "report" / "table.md").read_text()
    flagged = [name for name in table if table[name]["selection_optimism_beyond_noise"] == "True"]
    assert flagged == ["full"]  # the fixture's trial 0 of full was lucky on dev
    assert "† where it exceeds its noise (the re-runs' seed spread; one-sided, Bonferroni over the strategies): full." \
        in notes
    assert "‡ where it exceeds the noise of both scores (two-sided, Bonferroni over the strategies): none." in notes


def test_without_a_held_out_split_there_is_no_split_difference_column(tmp_path):
    data = make_results(strategies=("full", "lora"))
    for record in data["strategies"].values():
        for run in record["seed_runs"]:
            del run["metrics"]["test"], run["predictions"]["test"]
    report = render.write_report(write_run(tmp_path / "dev-only", data)).parent
    assert "dev − held-out" not in (report / "table.md").read_text()
    assert all(row["dev_minus_held_out"] == "" and row["selection_optimism"] for row in table_csv(report).values())
    assert "| dev accuracy (mean ± sd) |" in (report / "table.md").read_text()
    assert "| full | lora |" in (report / "verdicts.md").read_text() or "| lora | full |" in (report / "verdicts.md").read_text()


def test_latex_table_is_booktabs_and_escaped(sst2):
    tex = (sst2 / "report" / "table.tex").read_text()
    body = [line for line in tex.splitlines() if not line.startswith("%")]
    assert body[0] == r"\begin{tabular}{llrrrrrrrrrrrrrrlrrrr}" and body[-1] == r"\end{tabular}"
    assert [body.count(rule) for rule in (r"\toprule", r"\midrule", r"\bottomrule")] == [1, 1, 1]
    rows = body[body.index(r"\midrule") + 1: body.index(r"\bottomrule")]
    assert len(rows) == 7 and all(row.count(" & ") == len(COLUMNS) - 1 and row.endswith(r" \\") for row in rows)
    assert r"\textbf{770}" in tex and r"\textbf{llrd} & full & \textbf{0.846 $\pm$ 0.003}" in tex
    assert not re.search(r"(?<!\\)[%_#&](?! )", "\n".join(body).replace(" & ", " ")), "unescaped LaTeX character"


def test_every_figure_exists_as_pdf_and_png_at_paper_width(sst2):
    import matplotlib.image

    for name in FIGURES:
        pdf, png = sst2 / "report" / f"{name}.pdf", sst2 / "report" / f"{name}.png"
        assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5_000, name
        pixels = matplotlib.image.imread(png)
        height, width = pixels.shape[:2]
        assert width == round((PAPER_WIDE_WIDTH if name in WIDE_FIGURES else PAPER_WIDTH) * PAPER_DPI), name
        assert PAPER_WIDTH * PAPER_DPI * 0.5 < height < 7 * PAPER_DPI, name
        assert pixels[..., :3].std() > 0.05, f"{name}.png is blank"
        colours = {tuple(p) for p in (pixels[::7, ::7, :3] * 255).astype(int).reshape(-1, 3)}
        assert len(colours) > 20, f"{name}.png has almost nothing drawn"


def test_report_md_links_every_figure_and_says_what_the_numbers_are(sst2):
    text = (sst2 / "report" / "report.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links == [f"{name}.png" for name in FIGURES]
    assert "names in bold: the top group" in text
    assert all((sst2 / "report" / link).exists() for link in links)
    for fragment in ("## Setup", "train 2,000 (a subset of 66,349), dev 872, held-out 1,000",
                     "4 trials of tuning per strategy (equal for all)", "| qlora | done | 3 / 1 / 0 |",
                     "## Results (held-out accuracy, 3 seeds per strategy)",
                     "95% interval: t interval over seeds combined with the sampling term of the held-out rows",
                     "**Bold: the top group**", "## Which strategies can be told apart",
                     "**Top group** (the best estimate and every strategy not shown worse than it): llrd, full, "
                     "adapters, lora.", "Equivalence margin: ±0.05 (`--margin`).",
                     "Baseline: always predicting class 1 (57.5% of the rows) scores 0.575; guessing uniformly among 2 "
                     "classes, 0.500.", "*defaults*: the chosen configuration is the strategy's defaults",
                     "Selection optimism: the dev accuracy of the trial that chose the configuration",
                     "**Training subsample:** the 2,000 training rows are one fixed draw",
                     "**Use lora**", "PEFT saves little memory: activations and the frozen weights dominate",
                     "qlora took longer to train than full", "trials ran sequentially with a seeded sampler",
                     "dev scores are optimistic", "torch 2.13.0+cpu"):
        assert fragment in text, fragment
    for verdict, meaning in VERDICT_MEANINGS.items():
        assert f"*{verdict}*: {meaning}" in text
    # the results table; the budget, expected-best and inference tables, and llrd's 6 pairs in the verdicts
    assert text.count("| **llrd** |") == 1 and text.count("| llrd |") == 3 + 6


def test_inference_cost_section_columns_and_figure_match_results_json(sst2):
    raw = raw_strategies(sst2)
    rows = markdown_rows(sst2 / "report" / "table.md")
    header = (sst2 / "report" / "table.md").read_text().splitlines()[0]
    assert header.endswith("| latency b1 | merged latency b1 | throughput b32 | inference memory |")
    # fastest as trained (with its fastest and slowest pass) and merged
    assert rows["lora"][-4:] == ["**11 ms (10.6–11.9)**", "**9 ms**", "**180/s**", "86.4 MiB"]
    assert rows["qlora"][-4:] == ["23.9 ms (22.9–25.8)", "18.3 ms ≠", "109/s", "**51.1 MiB**"]  # merged: other predictions
    notes = (sst2 / "report" / "table.md").read_text()
    assert "In brackets: the fastest and slowest pass, an interval that holds the median pass with probability 97%" in notes
    assert rows["adapters"][-3] == "n/a"
    text = (sst2 / "report" / "report.md").read_text()
    section = text.split("## Inference cost", 1)[1].split("\n## ", 1)[0]
    assert "on 32 dev rows, the same for every strategy (mean 27.7 tokens" in section
    assert "| lora | reparameterised | 11 ms | 9 ms | 180/s | 182/s | 86.4 MiB | 86.1 MiB | 3e-07 | merged: the same " \
           "predictions |" in section
    assert "| adapters | additive | 15.1 ms | n/a | 148/s | n/a | 88.4 MiB | n/a | n/a | its trained modules" in section
    assert "qlora: merging changed the predictions by more than float rounding (a quantised base is re-quantised" \
        in section
    # what the measurement cost, recomputed from the raw records
    measured = sum(r["inference"]["seconds"] for s in raw.values() for r in s["seed_runs"] if r["inference"])
    runs = sum(s["spent"]["seconds"] + sum(r["train_seconds"] for r in s["seed_runs"]) for s in raw.values())
    assert f"The measurement took {measured:g} s in all, {measured / (runs + measured):.1%} of the time" in section
    assert "--max-latency 5ms" in text


def test_latency_figure_draws_merged_forms_hollow_only_where_predictions_are_kept(sst2):
    from reports.style import STYLES, Palette

    results = load_results(sst2)
    table = main_table(results)
    palette = Palette((row.strategy, row.family) for row in table.rows)
    fig = plots.tradeoff(results, table, STYLES["paper"], palette, plots.LATENCY_AXIS)
    hollow = [line for line in fig.axes[0].lines if line.get_markerfacecolor() == "white"]
    assert [list(line.get_xdata()) for line in hollow] == [[9.0]]  # lora merged; qlora's merge changed predictions
    filled = sorted(float(line.get_xdata()[0]) for line in fig.axes[0].lines  # not the error bars' caps (_ and |)
                    if line.get_marker() not in ("None", "", "_", "|") and line.get_markerfacecolor() != "white")
    measured = [r["inference"]["as_trained"] for s in raw_strategies(sst2).values() for r in s["seed_runs"]
                if r["inference"]]
    assert filled == sorted(form["latency_ms"] for form in measured)
    # each as-trained point has a horizontal bar from its fastest to its slowest pass
    bars = sorted(tuple(segment[:, 0]) for collection in fig.axes[0].collections
                  for segment in collection.get_segments() if segment[0, 1] == segment[1, 1])
    assert bars == sorted(tuple(form["latency_range_ms"]) for form in measured)


def test_a_comparison_from_before_inference_was_measured_says_so(tmp_path):
    run = write_run(tmp_path / "smoke", smoke_results())  # the real writer's output, from before
    process = run_cli("runners.report", str(run))
    assert process.returncode == 0, process.stderr
    assert "latency" not in (run / "report" / "table.md").read_text().splitlines()[0]
    assert not (run / "report" / "tradeoff-latency.png").exists()
    assert all(row["latency_b1_ms"] == "" for row in table_csv(run / "report").values())
    assert "Not measured: this results.json was written before peftbench measured inference cost." in \
        (run / "report" / "report.md").read_text()


def test_one_seed_omits_intervals_and_verdicts_with_the_reason(tmp_path):
    run = write_run(tmp_path / "one", make_results(seeds=1, strategies=("lora", "bitfit", "frozen")))
    process = run_cli("runners.report", str(run))
    assert process.returncode == 0, process.stderr
    numbers = table_csv(run / "report")
    assert all(row["held_out_accuracy_std"] == row["held_out_accuracy_interval_low"] == "" for row in numbers.values())
    rows = markdown_rows(run / "report" / "table.md")
    assert all(cells[column("interval")] == "n/a (1 seed)" for cells in rows.values())
    text = (run / "report" / "report.md").read_text()
    assert "nothing measures seed-to-seed variation, so there are no intervals, verdicts or optimism flags" in text
    assert "No verdicts: no strategy has 2 or more seed runs to analyse." in text
    assert "**Undetermined**: no verdicts, so no strategy is shown to be best" in text
    assert not (run / "report" / "verdicts.md").exists() and "Δ" not in (run / "report" / "table.md").read_text()


def test_several_comparisons_make_a_combined_table_and_figure(combined):
    sst2, rte, out = combined
    numbers = table_csv(out)
    for name in ("full", "lora", "llrd", "frozen"):
        means = [np.mean(list(by_seed(raw_strategies(run)[name], "test").values())) for run in (sst2, rte)]
        assert float(numbers[name]["sst2 held-out accuracy mean"]) == pytest.approx(means[0])
        assert float(numbers[name]["rte held-out accuracy mean"]) == pytest.approx(means[1])
        assert float(numbers[name]["average"]) == pytest.approx(np.mean(means))
    assert numbers["qlora"]["rte seeds"] == "0" and numbers["qlora"]["average"] == ""
    rows = markdown_rows(out / "table.md")
    assert rows["qlora"][2:] == ["—", "—"] and rows["llrd"][1].startswith("**") and rows["llrd"][2].startswith("**")
    assert not rows["frozen"][1].startswith("**")  # shown worse than llrd on sst2: not in its top group
    text = (out / "report.md").read_text()
    assert "[sst2](../sst2/report/report.md)" in text and "![" in text
    assert "- qlora: no seed runs to judge it by (rte: failed)" in text
    for directory in (out, sst2 / "report", rte / "report"):
        assert (directory / "report.md").exists()
    for name in ("combined", "seeds"):  # slides style: wider figures at screen resolution
        directory = out if name == "combined" else rte / "report"
        import matplotlib.image

        assert matplotlib.image.imread(directory / f"{name}.png").shape[1] == round(SLIDES_WIDTH * SLIDES_DPI)
        assert (directory / f"{name}.pdf").stat().st_size > 5_000


def test_a_failed_strategy_is_reported_not_hidden(combined):
    _, rte, _ = combined
    rows = markdown_rows(rte / "report" / "table.md")
    assert rows["qlora"][1:3] == ["quantised", "failed: no seed runs"]
    text = (rte / "report" / "report.md").read_text()
    assert "**Partial comparison:**" in text
    assert "**qlora** (failed, no result): `MemoryCapExceeded: process memory passed 1024 MiB`" in text


def test_real_writer_output_loads_and_ranks(tmp_path):
    """The file runners.compare wrote for a smoke comparison (tiny random BERT, 2 seeds)."""
    results = load_results(write_run(tmp_path / "smoke", smoke_results()))
    table = main_table(results)
    assert [row.seeds for row in table.rows] == [2] * 7
    assert ranked_split(results) == "test"  # a version-2 file, migrated: its held-out note became the splits' sources
    assert results.task.splits == SplitSources(dev="dev file", heldout="carved from train", seed=0)
    assert table.conclusions.evidence == SCORES_ONLY and table.conclusions.analysis.baseline.majority is None
    rec = recommend([results])
    assert rec.outcome in ("recommended", "undetermined", "nothing learned")
    assert [row.strategy for row in table.rows] == table.conclusions.analysis.ranking


def test_a_crash_while_writing_leaves_the_old_report_whole(sst2, tmp_path, monkeypatch):
    run = write_run(tmp_path / "run", json.loads((sst2 / "results.json").read_text()))
    old = run / "report"
    old.mkdir()
    (old / render.OWNER_MARK).write_text("")
    (old / "report.md").write_text("the previous report\n")

    def crash(results, table, directory, style):
        (directory / "seeds.png").write_bytes(b"half a figure")
        raise KeyboardInterrupt

    monkeypatch.setattr(plots, "write_figures", crash)
    with pytest.raises(KeyboardInterrupt):
        render.write_report(run)
    assert sorted(p.name for p in old.iterdir()) == [render.OWNER_MARK, "report.md"]
    assert (old / "report.md").read_text() == "the previous report\n"
    assert sorted(p.name for p in run.iterdir()) == ["report", "results.json"]  # no temporary directory left


def test_out_never_replaces_a_directory_it_did_not_write(sst2, tmp_path):
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("years of work")
    process = run_cli("runners.report", str(sst2), "--out", str(precious))
    assert_one_line_error(process, f"{precious} exists and does not hold a peftbench report")
    assert [p.name for p in precious.iterdir()] == ["chapter1.tex"]


BAD_RESULTS = {
    "no-results": (None, "has no results.json"),
    "truncated": ('{"schema_version": 1, "kind": "peftbench-comparison", "task": {"na', "is not valid JSON"),
    "empty": ("", "is empty"),
    "schema-0": (json.dumps(variant(make_results(seeds=1), schema_version=0)), "has schema version 0, older than"),
    "schema-99": (json.dumps(variant(make_results(seeds=1), schema_version=99)), "written by a newer peftbench"),
    "other-kind": (json.dumps(variant(make_results(seeds=1), kind="optuna-export")), "is not a peftbench comparison"),
    "a-list": ("[1, 2, 3]", "is not a peftbench comparison"),
    "no-metric": (json.dumps(variant(make_results(seeds=1), task={"name": "sst2", "sizes": {}})),
                  "task.metric is missing"),
    "bad-seed-run": (json.dumps(make_results(seeds=1)).replace('"peak_memory_bytes": ',
                                                               '"peak_memory_bytes": "x", "_": ', 1),
                     "strategies.full.seed_runs[0].peak_memory_bytes must be an integer, found a string"),
}


@pytest.mark.parametrize("runner", ["runners.report", "runners.recommend"])
@pytest.mark.parametrize("case", list(BAD_RESULTS))
def test_bad_results_file_is_one_line_and_exit_2(runner, case, tmp_path):
    content, fragment = BAD_RESULTS[case]
    run = tmp_path / case
    run.mkdir()
    if content is not None:
        (run / "results.json").write_text(content)
    assert_one_line_error(run_cli(runner, str(run)), fragment)
    assert not (run / "report").exists()


def test_bad_flags_and_paths_are_one_line(sst2, tmp_path):
    assert_one_line_error(run_cli("runners.report", str(sst2), "--style", "poster"), "argument --style: invalid choice")
    assert_one_line_error(run_cli("runners.report", str(tmp_path / "missing")), "does not exist")
    assert_one_line_error(run_cli("runners.report"), "the following arguments are required: RUN_DIR")
    assert_one_line_error(run_cli("runners.report", str(sst2), str(sst2)),
                          "the same comparison directory was given twice")
    assert_one_line_error(run_cli("runners.report", str(sst2), "--out", str(sst2 / "results.json" / "report")),
                          "which is a file")
    # a bad second directory is refused before the first one's report is touched
    before = (sst2 / "report" / "report.md").stat().st_mtime_ns
    assert_one_line_error(run_cli("runners.report", str(sst2), str(tmp_path)), "has no results.json")
    assert (sst2 / "report" / "report.md").stat().st_mtime_ns == before



def test_the_report_states_the_split_protocol(sst2, tmp_path):
    """results.json's task.protocol decides what the report says about where held-out scores come from."""
    assert "carves held-out from train instead" not in (sst2 / "report" / "report.md").read_text()
    assert "its scores are optimistic" in (sst2 / "report" / "report.md").read_text()
    results = make_results()
    results["task"].update(protocol="dev-from-train", splits={"dev": "carved from train", "heldout": "dev file", "seed": 0})
    run = write_run(tmp_path / "dev-from-train", results)
    assert run_cli("runners.report", str(run)).returncode == 0
    text = (run / "report" / "report.md").read_text()
    assert "held-out: the dev file (1,000 examples); dev: 872 examples carved from train (seed 0, stratified)" in text
    assert "small-budget papers" in text
    assert "its scores are optimistic" not in text


# ----------------------------------------------------------------------------- the schema version policy
COMMITTED_RUNS = sorted({path.parent for path in (Path(__file__).resolve().parents[1] / "docs").rglob("results.json")})


@pytest.mark.parametrize("run", COMMITTED_RUNS, ids=lambda path: str(path.relative_to(path.parents[2])))
def test_every_committed_example_loads_and_renders_whatever_its_schema_version(run, tmp_path):
    """Files of earlier versions (the committed examples were written by version 2) are migrated on reading and
    reported without what their version lacks; the migrated record is this version's."""
    from peftbench.schema import SCHEMA_VERSION

    copy = write_run(tmp_path / "run", json.loads((run / "results.json").read_text()))
    results = load_results(copy)
    assert results.schema_version == SCHEMA_VERSION and results.strategies
    assert results.task.splits.heldout is not None and not any(n.startswith("held-out split") for n in results.task.notes)
    assert render.write_report(copy).is_file()


BENCHMARK_RUNS = sorted({path.parent for path in (Path(__file__).resolve().parents[1] / "benchmarks").rglob(
    "results.json")})


@pytest.mark.parametrize("run", BENCHMARK_RUNS, ids=lambda path: path.parent.name + "/" + path.name)
def test_every_committed_benchmark_comparison_is_judged_from_what_it_recorded(run):
    """The GPU comparisons under benchmarks/results were written before per-row predictions were kept: they are
    ranked and judged from their seed scores, and the ranking and the recommendation say so."""
    from runners.compare import ranking_table

    results = load_results(run)
    table = main_table(results)
    assert table.conclusions.evidence == SCORES_ONLY and table.conclusions.analysis is not None
    assert "evidence: this results.json records each seed run's score but not its per-row" in ranking_table(results)
    assert recommend([results]).outcome in ("recommended", "undetermined", "nothing learned")


def test_a_version_older_than_the_oldest_migration_is_refused_in_one_line(tmp_path):
    from peftbench.schema import MIGRATIONS

    oldest = min(MIGRATIONS)
    run = write_run(tmp_path / "old", variant(make_results(seeds=1), schema_version=oldest - 1))
    assert_one_line_error(run_cli("runners.report", str(run)), f"has schema version {oldest - 1}, older than the "
                          f"oldest this peftbench reads ({oldest}); re-run the comparison")


# ----------------------------------------------------------------------------- one source of conclusions
def terminal_order(results) -> list[str]:
    from runners.compare import ranking_table

    lines = ranking_table(results).splitlines()[1:]
    return [line.split()[1] for line in lines if line[:4].strip().isdigit()]


@pytest.mark.parametrize("kind", ["per-row", "scores only"])
def test_the_terminal_ranking_is_report_md_order(kind, tmp_path):
    """runners.compare's ranking and report.md list the strategies in one order, from one split, with one top
    group: both ask reports.conclusions."""
    data = make_results() if kind == "per-row" else without_predictions(make_results())
    run = write_run(tmp_path / "run", data)
    render.write_report(run)
    results = load_results(run)
    assert terminal_order(results) == list(markdown_rows(run / "report" / "table.md"))
    top = [name for name, row in table_csv(run / "report").items() if row["top_group"] == "True"]
    from runners.compare import ranking_table

    assert f"): {', '.join(top)}" in ranking_table(results)


def test_a_file_without_predictions_is_judged_from_its_seed_scores_and_says_so(tmp_path):
    """A results.json written before per-row predictions were kept (the committed examples): accuracy's intervals
    from the seed scores and a binomial bound, unpaired, so wider; "learned" against chance only, as it says."""
    run = write_run(tmp_path / "old", without_predictions(make_results()))
    text = render.write_report(run).read_text()
    assert "Evidence: this results.json records each seed run's score but not its per-row predictions" in text
    assert "the majority class is unknown (no gold labels recorded)" in text
    assert "*did not learn*: not above chance beyond noise" in text
    numbers, per_row = table_csv(run / "report"), raw_analysis(write_run(tmp_path / "new", make_results()))
    for name, row in numbers.items():
        width = float(row["held_out_accuracy_interval_high"]) - float(row["held_out_accuracy_interval_low"])
        assert width > per_row.scores[name].high - per_row.scores[name].low  # unpaired and bounded: wider


def test_another_metric_without_predictions_has_no_verdicts_and_says_why(tmp_path):
    data = without_predictions(make_results(strategies=("lora", "bitfit")))
    data["task"]["metric"] = "macro_f1"
    for record in data["strategies"].values():
        for run in record["seed_runs"]:
            run["primary_metric"] = "macro_f1"
        record["best"]["value"] = record["seed_runs"][0]["metrics"]["dev"]["macro_f1"]
    run = write_run(tmp_path / "f1", data)
    text = render.write_report(run).read_text()
    assert "No intervals and no verdicts: this results.json records each seed run's score but not its per-row " \
           "predictions" in text and "only accuracy's row-sampling term can be bounded" in text
    process = run_cli("runners.recommend", str(run))
    assert process.returncode == 4 and "**Undetermined**: no verdicts" in process.stdout


def test_the_margin_flag_sets_what_equivalent_means(sst2, tmp_path):
    """--margin 0.01: no pair of the fixture is within a point, so nothing is equivalent and fewer are decided."""
    out = tmp_path / "strict"
    assert run_cli("runners.report", str(sst2), "--margin", "0.01", "--out", str(out)).returncode == 0
    strict = (out / "verdicts.csv").read_text()
    default = (sst2 / "report" / "verdicts.csv").read_text()
    assert ",equivalent,0.01," not in strict and ",equivalent,0.05," in default
    assert "Equivalence margin: ±0.01 (`--margin`)." in (out / "report.md").read_text()
    assert_one_line_error(run_cli("runners.report", str(sst2), "--margin", "-1"), "argument --margin")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_the_latex_tables_compile(sst2, combined, tmp_path):
    """table.tex, verdicts.tex, the multi-task table (tasks × strategies) and the paper's table float, \\input in a
    document with booktabs, compile with pdflatex."""
    document = tmp_path / "paper.tex"
    report = sst2 / "report"
    tables = [report / "table.tex", report / "verdicts.tex", combined[2] / "table.tex"]
    document.write_text("\\documentclass{article}\\usepackage[T1]{fontenc}\\usepackage[utf8]{inputenc}"
                        "\\usepackage{booktabs}\\usepackage{graphicx}\\begin{document}"
                        + "".join(f"\\resizebox{{\\textwidth}}{{!}}{{\\input{{{table}}}}}\n\n" for table in tables)
                        + f"\\input{{{report / 'paper.tex'}}}\n" + "\\end{document}\n")
    process = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", document.name],
                             cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert process.returncode == 0, process.stdout[-2000:]


def test_the_reports_guide_explains_the_verdicts_in_the_reports_words():
    """The reports guide gives each verdict's meaning in the two sentences the report prints."""
    section = (Path(__file__).resolve().parents[1] / "docs" / "guides" / "reports.md").read_text(encoding="utf-8")
    for verdict, meaning in VERDICT_MEANINGS.items():
        assert f"- **{verdict}**: {meaning[0].upper()}{meaning[1:]}" in section
        assert meaning.count(". ") == 1 and meaning.endswith(".")  # two sentences


def test_the_report_and_recommend_commands_never_import_torch():
    """Every consumer of the conclusions reads results.json without the training stack."""
    check = ("import sys, reports.conclusions, reports.render, reports.sweep_render, runners.report, "
             "runners.recommend; print('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[1]).stdout == "False\n"


def test_a_strategy_has_the_same_colour_and_marker_in_every_figure_of_reports_that_compare_different_strategies(
        tmp_path, monkeypatch):
    """Two reports, the second with fewer strategies in another order (bitfit without frozen, its family's first):
    every figure of both draws each strategy in one colour and one marker, the registry's place decides it."""
    from matplotlib.colors import to_hex

    from reports.style import STYLES

    drawn: dict[str, dict[str, set]] = {}
    saved = plots.save

    def capture(fig, directory, name, style):
        for legend in fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]:
            for handle, text in zip(legend.legend_handles, legend.get_texts()):
                if hasattr(handle, "get_marker") and handle.get_marker() not in ("None", ""):
                    looks = drawn.setdefault(directory.parent.name, {})
                    looks.setdefault(text.get_text(), set()).add((to_hex(handle.get_color()), handle.get_marker()))
        saved(fig, directory, name, style)

    monkeypatch.setattr(plots, "save", capture)
    runs = {"all-seven": make_results(), "four": make_results(strategies=("bitfit", "qlora", "lora", "full"))}
    for name, results in runs.items():
        render.write_single(load_results(write_run(tmp_path / name / "run", results)), STYLES["paper"],
                            tmp_path / name / "report")
    seven, four = ({strategy: looks for strategy, looks in drawn[name].items() if strategy in runs[name]["strategies"]}
                   for name in ("all-seven", "four"))
    assert set(four) == {"bitfit", "qlora", "lora", "full"} and len(seven) == 7
    for name in four:
        assert len(seven[name]) == 1 and seven[name] == four[name], name
    assert len({look for looks in seven.values() for look in looks}) == 7  # and seven strategies, seven looks


def test_importances_are_drawn_only_from_enough_trials_and_the_report_says_when_not(tmp_path):
    from reports.tables import MIN_IMPORTANCE_TRIALS

    few = write_run(tmp_path / "few", make_results(strategies=("lora", "full"), trial_count=4))
    many = write_run(tmp_path / "many", make_results(strategies=("lora", "full"), trial_count=MIN_IMPORTANCE_TRIALS + 2))
    for run in (few, many):
        assert render.write_report(run).is_file()
    assert not (few / "report" / "importance.png").exists()
    assert "**Hyperparameter importance** is not shown for 2 of the 2" in (few / "report" / "report.md").read_text()
    assert (many / "report" / "importance.png").is_file()
    assert "**Hyperparameter importance** is not shown" not in (many / "report" / "report.md").read_text()


def test_the_paper_figure_has_a_panel_per_cost_sharing_the_score_axis_and_a_line_at_full(sst2):
    from reports.style import STYLES, Palette

    results = load_results(sst2)
    table = main_table(results)
    fig = plots.tradeoff_panels(results, table, STYLES["paper"], Palette(row.info for row in table.rows))
    panels = [ax for ax in fig.axes if ax.get_visible()]
    full = next(row for row in table.rows if row.strategy == "full").score.mean
    assert [ax.get_xlabel().split(" (")[0] for ax in panels] == [
        "trainable parameters", "peak memory", "training time per run", "inference latency per example, batch 1"]
    assert all(ax.get_shared_y_axes().joined(panels[0], ax) for ax in panels)
    for ax in panels:
        assert any(line.get_linestyle() == ":" and list(line.get_ydata()) == [full, full] for line in ax.lines)
    assert fig.get_figwidth() == pytest.approx(PAPER_WIDE_WIDTH)


def test_methods_md_states_the_setup_and_statistics_from_results_json(sst2):
    text = (sst2 / "report" / "methods.md").read_text()
    for fragment in ("We compare 7 fine-tuning strategies", "2,000 of its 66,349 training examples", "4 trials per strategy",
                     "the first of which ran the strategy's default configuration", "re-trained with 3 seeds",
                     "within ±0.05", "Bonferroni-corrected over all 21 pairs", "peft 0.21.2"):
        assert fragment in text, fragment
    assert "[methods.md](methods.md)" in (sst2 / "report" / "report.md").read_text()


def test_each_confusion_matrix_is_the_seed_runs_predictions_against_the_gold_labels(sst2):
    from reports.style import STYLES, Palette

    results = load_results(sst2)
    table = main_table(results)
    fig = plots.confusion_matrices(results, table, STYLES["paper"], Palette(row.info for row in table.rows))
    first = table.rows[0]
    gold = np.asarray(results.task.labels[table.split])
    predicted = np.concatenate([run.predictions[table.split] for run in results.strategies[first.strategy].seed_runs])
    truth = np.tile(gold, len(results.strategies[first.strategy].seed_runs))
    expected = [f"{np.mean(predicted[truth == t] == p):.2f}" for t in (0, 1) for p in (0, 1)]
    ax = fig.axes[0]
    assert ax.get_title() == first.strategy and [text.get_text() for text in ax.texts] == expected


def test_a_report_over_three_comparisons_ranks_the_strategies_and_tests_across_them(tmp_path):
    """sst2, rte (where qlora failed, so it is left out of the test) and sst2 with 2 seeds: the ranks per
    comparison, their averages, Friedman's statistic (recomputed here with scipy) and the critical-difference
    figure."""
    from scipy import stats

    runs = [write_run(tmp_path / "sst2", make_results()),
            write_run(tmp_path / "rte", make_results(task="rte", failed=("qlora",))),
            write_run(tmp_path / "sst2-2", make_results(seeds=2))]
    report = render.write_reports(runs, out=tmp_path / "all")[-1]
    text = report.read_text()
    section = text.split("## Across comparisons (ranks, Friedman, Nemenyi)", 1)[1].split("## Figure", 1)[0]
    ranks = {line.split(" | ")[0][2:]: [float(r) for r in line.split(" | ")[2].rstrip(" |").split(", ")]
             for line in section.splitlines() if line.startswith("| ") and not line.startswith("| strategy")}
    assert set(ranks) == {"full", "frozen", "lora", "adapters", "llrd", "bitfit"}  # qlora: not in every comparison
    scores = [[load_results(run).strategies[name].scores(ranked_split(load_results(run)), "accuracy")
               for name in ranks] for run in runs]
    means = np.asarray([[np.mean(list(cell.values())) for cell in row] for row in scores])
    chi_square = stats.friedmanchisquare(*means.T).statistic
    assert f"χ²_F = {chi_square:.2f}" in section
    assert (tmp_path / "all" / "critical-difference.png").is_file() and "Nemenyi critical difference at 0.05" in section


def test_paper_tex_is_a_captioned_float_with_column_groups_the_top_group_bold_and_chosen_columns(sst2, tmp_path):
    from reports.paper_table import WORSE_MARK, shown_worse

    tex = (sst2 / "report" / "paper.tex").read_text()
    assert tex.startswith("\\begin{table}") and "\\caption{" in tex and "\\label{tab:sst2}" in tex
    assert "\\cmidrule(lr){2-2} \\cmidrule(lr){3-4}" in tex and "Mem. (GiB)" in tex
    table = main_table(load_results(sst2))
    for row in table.rows:
        line = next(line for line in tex.splitlines() if line.split(" & ")[0] in (row.strategy, f"\\textbf{{{row.strategy}}}"))
        mean = f"{100 * row.score.mean:.1f}"
        assert (f"\\textbf{{{mean} $\\pm$" in line) == row.top and (WORSE_MARK in line) == (row.strategy in shown_worse(table))
    process = run_cli("runners.report", str(sst2), "--out", str(tmp_path / "r"), "--columns", "score,macro_f1,latency")
    assert process.returncode == 0, process.stderr
    tex = (tmp_path / "r" / "paper.tex").read_text()
    assert "Macro f1" in tex and "Latency (ms)" in tex and "Mem. (GiB)" not in tex
    assert_one_line_error(run_cli("runners.report", str(sst2), "--columns", "score,bogus"), "unknown --columns bogus")


@pytest.mark.parametrize("example, drawn", [("example-tasks/rte", True), ("example-report", False)])
def test_the_majority_class_is_drawn_where_an_interval_reaches_it(example, drawn):
    """On RTE at the quick preset no strategy learned and the intervals straddle the majority class (52.7%): the
    trade-off panels and the seeds figure draw it as a dash-dotted line with a legend entry. On SST-2 every interval
    is far above it (50.9% against ≥ 75%), and drawing it would only squeeze the scores."""
    from reports.style import STYLES, Palette

    results = load_results(Path(__file__).resolve().parents[1] / "docs" / example)
    table = main_table(results)
    palette = Palette(row.info for row in table.rows)
    majority = table.conclusions.analysis.baseline.majority
    panels = plots.tradeoff_panels(results, table, STYLES["paper"], palette)
    seeds = plots.seed_spread(results, table, STYLES["paper"], palette)
    for fig, data in ((panels, "get_ydata"), (seeds, "get_xdata")):
        lines = [line for ax in fig.axes if ax.get_visible() for line in ax.lines if line.get_linestyle() == "-."]
        assert all(list(getattr(line, data)()) == [majority, majority] for line in lines)
        assert bool(lines) == drawn
        labels = [text.get_text() for legend in fig.legends for text in legend.get_texts()]
        assert ("majority class" in labels) == drawn


def test_with_more_strategies_than_markers_the_legend_names_families_and_the_front_is_labelled():
    """The committed run of all 53 strategies: its per-cost figure's legend lists the families with their counts
    (a 53-name legend did not fit a column), the Pareto front's strategies are named at their points, and the
    accuracy axis stays within [0, 1] although 2-seed intervals reach beyond it."""
    from reports.style import STYLES, Palette

    results = load_results(Path(__file__).resolve().parents[1] / "docs" / "example-all")
    table = main_table(results)
    palette = Palette(row.info for row in table.rows)
    fig = plots.tradeoff(results, table, STYLES["paper"], palette, plots.PARAMS_AXIS)
    labels = [text.get_text() for legend in fig.legends for text in legend.get_texts()]
    counts = palette.families(row.strategy for row in plots.scored(table))
    assert len(plots.scored(table)) > plots.MAX_NAMED and sum(counts.values()) == len(plots.scored(table))
    assert [f"{family} ({count})" for family, count in counts.items()] == labels[:len(counts)]
    ax = fig.axes[0]
    named = {text.get_text() for text in ax.texts}
    assert named and named <= {row.strategy for row in table.rows}
    low, high = ax.get_ylim()
    assert -0.05 < low and high < 1.05


def test_only_a_strategy_declared_to_compute_on_a_quantised_encoder_is_said_to_dequantise(tmp_path):
    """The cost note explains a slow quantised strategy by its 4-bit weights only where the strategy declares a
    quantised encoder (qlora, qdora), not by its family: loftq is in the family "quantised" but holds its
    dequantised weights in full precision, so the explanation would be false for it."""
    import copy

    from peftbench.schema import to_json
    from strategies import STRATEGIES as REGISTRY

    assert REGISTRY["qlora"].info().quantised_encoder and REGISTRY["qdora"].info().quantised_encoder
    assert REGISTRY["loftq"].family == "quantised" and not REGISTRY["loftq"].info().quantised_encoder
    data = make_results()
    loftq = copy.deepcopy(data["strategies"]["qlora"])
    loftq["info"] = to_json(REGISTRY["loftq"].info())
    for run in loftq["seed_runs"]:
        run["strategy"] = "loftq"
    data["strategies"]["loftq"] = loftq
    results = load_results(write_run(tmp_path / "run", data))
    slower = next(note for note in render.cost_notes(results, main_table(results)) if "Slower than full" in note)
    assert "loftq" in slower.split("took longer")[0]  # slower, as qlora is
    assert "(qlora dequantises 4-bit weights on every forward pass" in slower


def test_the_fronts_names_do_not_overlap_on_the_page():
    """At 53 strategies the front is dense where many cost little (docs/example-compare-all: ia3, road, frod and hra
    were written over each other): before saving, the names move apart, each joined to its point by a leader."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from reports.style import STYLES, Palette

    results = load_results(Path(__file__).resolve().parents[1] / "docs" / "example-compare-all")
    table = main_table(results)
    fig = plots.tradeoff(results, table, STYLES["paper"], Palette(row.info for row in table.rows), plots.PARAMS_AXIS)
    FigureCanvasAgg(fig)
    labels = [text for text in fig.axes[0].texts if text.get_gid() == plots.POINT_LABEL]
    renderer = fig.canvas.get_renderer()

    def overlapping() -> int:
        boxes = [plots.name_box(label, renderer) for label in labels]
        return sum(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])

    fig.draw_without_rendering()
    assert len(labels) >= 4 and overlapping() > 0  # as drawn at their points
    plots.separate_labels(fig)
    assert overlapping() == 0
    moved = [label for label in labels if label.arrow_patch.get_visible()]
    assert moved and all(label.xyann != plots.LABEL_OFFSET for label in moved)


def test_the_combined_figure_draws_each_comparisons_interval():
    """Across tasks the error bars are each comparison's 95% interval (the conclusions'), as in every other figure."""
    from reports.style import STYLES, Palette
    from reports.tables import combined_table

    root = Path(__file__).resolve().parents[1] / "docs" / "example-tasks"
    table = combined_table([load_results(root / task) for task in ("sst2", "rte", "subj")])
    fig = plots.combined(table, STYLES["paper"], Palette(table.infos.values()))
    ax = fig.axes[0]
    assert ax.get_ylabel() == "held-out accuracy\n(mean, 95% interval)"
    full = table.intervals["full"][1]  # RTE
    caps = [list(line.get_ydata()) for line in ax.lines]
    assert [full.low] in caps and [full.high] in caps
