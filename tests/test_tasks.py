"""Task resolution, the strict file readers, label handling and seeded stratified splits."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from peftbench.errors import UserError
from peftbench.records import CARVED, DEV_FILE, SplitSources
from peftbench.splits import stratified_indices
from peftbench.task_types import GLUE_TASKS
from peftbench.tasks import TaskRequest, load_task
from tests.conftest import write_tsv


def test_glue_task_from_local_dir(data_dir):
    data = load_task(TaskRequest("sst2", data_dir))
    assert data.sizes() == {"train": 96, "dev": 32}
    assert data.spec.metric == "accuracy" and data.spec.text_columns == ("sentence",)
    assert set(data.train["label"]) == {0, 1}


def test_pair_task_keeps_both_columns(data_dir):
    data = load_task(TaskRequest("rte", data_dir))
    assert data.spec.text_columns == ("sentence1", "sentence2")
    assert data.train.column_names == ["sentence1", "sentence2", "label"]


def test_environment_variable_points_at_data(data_dir, monkeypatch):
    monkeypatch.setenv("PEFTBENCH_DATA_DIR", data_dir)
    assert len(load_task(TaskRequest("sst2")).train) == 96


def test_default_search_finds_the_shared_data_beside_the_checkout(monkeypatch):
    from peftbench.task_files import DEFAULT_DATA_DIRS

    if not (DEFAULT_DATA_DIRS[1] / "sst2" / "train.tsv").exists():
        pytest.skip("no shared data beside this checkout")
    monkeypatch.delenv("PEFTBENCH_DATA_DIR", raising=False)
    data = load_task(TaskRequest("rte"))
    assert data.sizes() == {"train": 2490, "dev": 277}


def test_quotes_inside_sentences_are_kept(tmp_path):
    write_tsv(tmp_path / "sst2" / "train.tsv", ["sentence", "label"], [['he said " wow', 1], ["it 's \"bad", 0]])
    write_tsv(tmp_path / "sst2" / "dev.tsv", ["sentence", "label"], [["'fine'", 1], ["no", 0]])
    data = load_task(TaskRequest("sst2", str(tmp_path)))
    assert list(data.train["sentence"]) == ['he said " wow', 'it \'s "bad']


def test_train_subset_is_stratified_and_seeded(data_dir):
    a = load_task(TaskRequest("sst2", data_dir, train_size=20, seed=3))
    b = load_task(TaskRequest("sst2", data_dir, train_size=20, seed=3))
    c = load_task(TaskRequest("sst2", data_dir, train_size=20, seed=4))
    assert list(a.train["sentence"]) == list(b.train["sentence"])
    assert list(a.train["sentence"]) != list(c.train["sentence"])
    assert Counter(a.train["label"]) == {0: 10, 1: 10}


def test_stratified_indices_keep_proportions_exactly():
    import datasets

    labels = [0] * 70 + [1] * 30
    dataset = datasets.Dataset.from_dict({"label": labels})
    chosen = stratified_indices(dataset, 10, seed=0)
    assert len(set(chosen)) == 10
    assert Counter(labels[i] for i in chosen) == {0: 7, 1: 3}


def test_by_default_dev_is_carved_from_train_and_the_dev_file_is_held_out(data_dir):
    official = load_task(TaskRequest("sst2", data_dir))
    data = load_task(TaskRequest("sst2", data_dir, carve_size=16, seed=0))
    assert data.protocol == "dev-from-train" and data.sizes() == {"train": 80, "dev": 16, "test": 32}
    assert data.test["sentence"] == official.dev["sentence"] and data.test["label"] == official.dev["label"]
    # the carved dev rows and the remaining train rows together are the train file, each row once
    assert Counter(data.dev["sentence"]) + Counter(data.train["sentence"]) == Counter(official.train["sentence"])
    assert data.splits == SplitSources(dev=CARVED, heldout=DEV_FILE, seed=0) and data.notes == []


def test_heldout_from_train_carves_the_heldout_split_and_keeps_the_dev_file(data_dir):
    official = load_task(TaskRequest("sst2", data_dir))
    data = load_task(TaskRequest("sst2", data_dir, carve_size=16, protocol="heldout-from-train", seed=0))
    assert data.protocol == "heldout-from-train" and data.sizes() == {"train": 80, "dev": 32, "test": 16}
    assert data.dev["sentence"] == official.dev["sentence"]
    assert Counter(data.test["sentence"]) + Counter(data.train["sentence"]) == Counter(official.train["sentence"])
    assert data.splits == SplitSources(dev=DEV_FILE, heldout=CARVED, seed=0) and data.notes == []


def test_a_task_with_its_own_test_file_ignores_the_protocol(tmp_path, data_dir):
    import shutil

    shutil.copytree(Path(data_dir) / "sst2", tmp_path / "sst2")
    shutil.copy(tmp_path / "sst2" / "dev.tsv", tmp_path / "sst2" / "test.tsv")
    for protocol in ("dev-from-train", "heldout-from-train"):
        data = load_task(TaskRequest("sst2", str(tmp_path), carve_size=16, protocol=protocol))
        assert data.protocol == "test-file" and data.sizes() == {"train": 96, "dev": 32, "test": 32}


def test_huge_train_size_uses_everything_and_says_so(data_dir):
    data = load_task(TaskRequest("sst2", data_dir, train_size=10**9))
    assert len(data.train) == 96
    assert "all used" in data.notes[0]


def test_custom_csv_with_string_labels(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('text,label\n' + '"great, really",pos\nawful,neg\nfine,pos\nbad,neg\n' * 10)
    data = load_task(TaskRequest(str(path)))
    assert data.spec.label_names == ("neg", "pos") and data.spec.num_labels == 2
    assert data.sizes() == {"train": 36, "dev": 4}
    assert data.train[0]["text"] in ("great, really", "awful", "fine", "bad")


def test_custom_jsonl_multiclass_and_regression(tmp_path):
    multi = tmp_path / "topics.jsonl"
    multi.write_text("\n".join(json.dumps({"text": f"t{i}", "label": i % 3}) for i in range(30)) + "\n")
    assert load_task(TaskRequest(str(multi))).spec.metric == "macro_f1"
    scores = tmp_path / "scores.jsonl"
    scores.write_text("\n".join(json.dumps({"a": f"x{i}", "b": "y", "label": i / 7}) for i in range(30)))
    spec = load_task(TaskRequest(str(scores), text_columns=("a", "b"))).spec
    assert spec.is_regression and spec.metric == "pearson"


def test_custom_directory_with_dev_and_test(tmp_path):
    for split, n in (("train", 20), ("dev", 6), ("test", 6)):
        write_tsv(tmp_path / f"{split}.tsv", ["premise", "hypothesis", "label"],
                  [[f"p{i}", f"h{i}", ["yes", "no"][i % 2]] for i in range(n)])
    data = load_task(TaskRequest(str(tmp_path)))
    assert data.spec.text_columns == ("premise", "hypothesis")
    assert data.sizes() == {"train": 20, "dev": 6, "test": 6}


@pytest.mark.parametrize("content,message", [
    ("", "the file is empty"),
    ("sentence\tlabel\n", "has a header but no rows"),
    ("sentence\tlabel\nfine\t1\nbroken\n", ":3: expected 2 fields"),
    ("sentence\tlabel\nfine\t1\n\t\nok\t0\n", ":3: empty row"),
    ("sentence\tlabel\nfine\t7\n", "label '7' is not one of 0, 1, negative, positive"),
    ("sentence\tlabel\nfine\tnan\n", "label 'nan' is not one of"),
    ("sentence\tlabel\n\t1\n", "column 'sentence' is empty"),
    ("text\tlabel\nfine\t1\n", "no column 'sentence'"),
])
def test_bad_glue_files(tmp_path, content, message):
    (tmp_path / "sst2").mkdir()
    (tmp_path / "sst2" / "train.tsv").write_text(content)
    (tmp_path / "sst2" / "dev.tsv").write_text("sentence\tlabel\nok\t1\n")
    with pytest.raises(UserError, match=message):
        load_task(TaskRequest("sst2", str(tmp_path)))


def test_non_utf8_bytes_name_the_line(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_bytes(b"sentence\tlabel\nok\t1\nbad \xff\xfe\t0\n")
    with pytest.raises(UserError, match=r"data.tsv:3: not valid UTF-8"):
        load_task(TaskRequest(str(path)))


@pytest.mark.parametrize("rows,message", [
    ("text,label\na,1\nb,\n", "label is missing"),
    ("text,label\na,1\nb,1\n", "only one value"),
    ("body,label\na,1\nb,0\n", None),  # a single other column is taken as the text
    ("a,b,label\nx,y,1\nz,w,0\n", "cannot tell which columns hold the text"),
    ("text,y\nx,1\n", "no label column 'label'"),
])
def test_custom_label_and_column_problems(tmp_path, rows, message):
    path = tmp_path / "mine.csv"
    path.write_text(rows * 1 if message else rows + "c,1\nd,0\n" * 5)
    if message is None:
        assert load_task(TaskRequest(str(path))).spec.text_columns == ("body",)
    else:
        with pytest.raises(UserError, match=message):
            load_task(TaskRequest(str(path)))


def test_unknown_task_and_missing_file(tmp_path):
    with pytest.raises(UserError, match="unknown task 'sst3'"):
        load_task(TaskRequest("sst3"))
    with pytest.raises(UserError, match="does not exist"):
        load_task(TaskRequest(str(tmp_path / "nope.csv")))
    with pytest.raises(UserError, match="has no sst2/train.tsv"):
        load_task(TaskRequest("sst2", str(tmp_path)))


def test_every_glue_task_has_a_metric_that_grows():
    from peftbench.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS

    for spec in GLUE_TASKS.values():
        assert spec.metric in CLASSIFICATION_METRICS + REGRESSION_METRICS and spec.metric != "mse"
        assert spec.is_regression or len(spec.label_names) == spec.num_labels


# ----------------------------------------------------------------------------- the metric a task is selected on
def labelled_file(path, labels: list[str]):
    path.write_text("text\tlabel\n" + "".join(f"row {i} of the file\t{label}\n" for i, label in enumerate(labels)),
                    encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("labels,metric,why", [
    (["a", "b"] * 20, "accuracy", "its two classes are balanced (the larger is 50% of the training file)"),
    (["yes"] * 28 + ["no"] * 12, "mcc", "the larger class is 70% of the training file, and always answering it "
                                        "would score 70% in accuracy but 0 in MCC"),
    (["x", "y", "z"] * 14, "macro_f1", "macro F1 over its 3 classes"),
])
def test_a_custom_task_is_scored_by_a_metric_a_constant_predictor_cannot_win(tmp_path, labels, metric, why):
    data = load_task(TaskRequest(labelled_file(tmp_path / "task.tsv", labels)))
    assert data.spec.metric == metric and why in data.spec.metric_reason


def test_metric_chooses_another_and_a_wrong_one_is_refused_in_one_line(tmp_path, data_dir):
    path = labelled_file(tmp_path / "task.tsv", ["yes"] * 28 + ["no"] * 12)
    chosen = load_task(TaskRequest(path, metric="macro_f1")).spec
    assert (chosen.metric, chosen.metric_reason) == ("macro_f1", "--metric")
    assert load_task(TaskRequest("sst2", data_dir, metric="mcc")).spec.metric == "mcc"
    with pytest.raises(UserError, match="--metric pearson: a classification task is selected on one of accuracy"):
        load_task(TaskRequest(path, metric="pearson"))
