"""Hostile input for the strict readers (``peftbench.datafiles.read_table``) and task loading (``peftbench.tasks.load_task``).

Arbitrary bytes and text written as .tsv/.csv/.jsonl end in a well-formed table (or task) or in a
one-line :class:`UserError` — never another exception, never a hang. Valid tables read back exactly
as they were written (TSV, CSV through the ``csv`` module's quoting, JSONL through ``json``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import signal
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from peftbench.errors import UserError
from peftbench.datafiles import MAX_CELL_CHARS, SUFFIXES, read_table
from peftbench.records import DEV_FILE
from peftbench.tasks import TaskRequest, load_task

HANG_SECONDS = 10  # no single read may take this long; a hang fails the example instead of the whole run
FUZZ = settings(max_examples=150, deadline=4000, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.filter_too_much, HealthCheck.data_too_large])
TASK_FUZZ = settings(FUZZ, max_examples=100)

# Characters that matter to the formats: delimiters, quotes, line breaks of every kind Unicode knows
# (only \n, \r\n and \r end a record), NUL, a BOM, JSON punctuation and escapes.
STRUCTURE = list('\t,"\'\n\r\x00 {}[]:\\\ufeff\x85\u2028\u2029\x0b\x0c\x1c\x1e') + ["\r\n", '""', "\\u", "\\ud800"]
ANY_CHAR = st.characters(exclude_categories=("Cs",))  # surrogates cannot be written as UTF-8


def noisy(max_pieces: int) -> st.SearchStrategy[str]:
    """Text made of format-relevant pieces and any other characters."""
    return st.lists(st.one_of(st.sampled_from(STRUCTURE), ANY_CHAR), max_size=max_pieces).map("".join)


NOISY_TEXT = noisy(400)


@contextlib.contextmanager
def time_limit(seconds: float = HANG_SECONDS):
    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds}s: a hang")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def folder():
    with tempfile.TemporaryDirectory(prefix="peftbench-fuzz-") as name:
        yield Path(name)


def assert_one_line(error: UserError) -> None:
    message = str(error)
    assert message and message == message.strip()
    assert len(message.splitlines()) == 1, f"a multi-line error message: {message!r}"


def read_or_refuse(path: Path) -> dict[str, list[str]] | None:
    """The table, or None when it was refused with a one-line UserError; anything else fails the test."""
    with time_limit():
        try:
            columns = read_table(path)
        except UserError as error:
            assert_one_line(error)
            return None
    assert_well_formed_table(columns)
    return columns


def assert_well_formed_table(columns: dict[str, list[str]]) -> None:
    assert isinstance(columns, dict) and columns, "a table without columns"
    lengths = {len(values) for values in columns.values()}
    assert len(lengths) == 1, f"columns of different lengths: {lengths}"
    assert lengths.pop() >= 1, "a table without rows"
    for name, values in columns.items():
        assert isinstance(name, str)
        name.encode("utf-8")  # no unpaired surrogates: everything downstream must be able to write it
        for value in values:
            assert isinstance(value, str) and len(value) <= MAX_CELL_CHARS
            value.encode("utf-8")


def write(directory: Path, name: str, content: str | bytes) -> Path:
    path = directory / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


# ----------------------------------------------------------------------------- read_table: anything goes
@FUZZ
@given(data=st.binary(max_size=2000), suffix=st.sampled_from(SUFFIXES))
@example(data=b"[" * 100_000, suffix=".jsonl")  # nesting deeper than Python's recursion limit
@example(data=b'{"a": ' + b"9" * 5000 + b"}", suffix=".jsonl")  # an integer past int's 4300-digit limit
@example(data=b'{"text": "\\ud800", "label": 1}', suffix=".jsonl")  # an unpaired surrogate escape
@example(data=b"{}\n{}\n", suffix=".jsonl")  # objects without fields
@example(data=b"\xef\xbb\xbf", suffix=".tsv")  # a byte-order mark and nothing else
def test_arbitrary_bytes_are_read_or_refused(data, suffix):
    with folder() as directory:
        read_or_refuse(write(directory, f"data{suffix}", data))


@FUZZ
@given(text=NOISY_TEXT, suffix=st.sampled_from(SUFFIXES), bom=st.booleans())
def test_arbitrary_text_is_read_or_refused(text, suffix, bom):
    with folder() as directory:
        read_or_refuse(write(directory, f"data{suffix}", ("\ufeff" if bom else "") + text))


@st.composite
def row_shaped_text(draw) -> tuple[str, str]:
    """Text that looks like a table (rows of cells) but with hostile cells, widths and line ends."""
    suffix = draw(st.sampled_from((".tsv", ".csv")))
    delimiter = "\t" if suffix == ".tsv" else ","
    cell = noisy(12)
    width = draw(st.integers(1, 4))
    rows = draw(st.lists(st.lists(cell, min_size=max(0, width - 1), max_size=width + 1), min_size=1, max_size=8))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = ending.join(delimiter.join(row) for row in rows) + draw(st.sampled_from(["", ending, ending * 2]))
    return suffix, text


@FUZZ
@given(shaped=row_shaped_text())
@example(shaped=(".csv", '"a\nb",label\nx,1\n'))  # a quoted line break in a column name
@example(shaped=(".tsv", "\ntext\tlabel\nx\t1"))  # a blank first line
def test_table_shaped_text_is_read_or_refused(shaped):
    suffix, text = shaped
    with folder() as directory:
        read_or_refuse(write(directory, f"data{suffix}", text))


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                                       max_size=3), max_leaves=6)


@FUZZ
@given(records=st.lists(JSON_VALUES, min_size=1, max_size=6), ascii_only=st.booleans(),
       damage=st.sampled_from(["", "truncate", "blank line", "trailing garbage"]))
def test_json_lines_of_any_shape_are_read_or_refused(records, ascii_only, damage):
    lines = [json.dumps(record, ensure_ascii=ascii_only) for record in records]
    if damage == "truncate":
        lines[-1] = lines[-1][: len(lines[-1]) // 2]
    elif damage == "blank line":
        lines.insert(len(lines) // 2, "   ")
    elif damage == "trailing garbage":
        lines[0] += " x"
    with folder() as directory:
        columns = read_or_refuse(write(directory, "data.jsonl", "\n".join(lines) + "\n"))
    if columns is not None:
        assert all(isinstance(r, dict) for r in records) and len(next(iter(columns.values()))) == len(records)


# ----------------------------------------------------------------------------- read_table: valid tables round-trip
def stripped_name(alphabet: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    # header names are stripped by the reader; a leading U+FEFF would be taken for a byte-order mark
    return st.text(alphabet, min_size=1, max_size=8).filter(lambda s: s == s.strip() and not s.startswith("\ufeff"))


def non_blank_rows(cell: st.SearchStrategy[str], width: int) -> st.SearchStrategy[list[list[str]]]:
    row = st.lists(cell, min_size=width, max_size=width).filter(lambda cells: any(c.strip() for c in cells))
    return st.lists(row, min_size=1, max_size=10)


@st.composite
def table(draw, alphabet: st.SearchStrategy[str]) -> tuple[list[str], list[list[str]]]:
    header = draw(st.lists(stripped_name(alphabet), min_size=1, max_size=4, unique=True))
    rows = draw(non_blank_rows(st.text(alphabet, max_size=30), len(header)))
    return header, rows


def as_columns(header: list[str], rows: list[list[str]]) -> dict[str, list[str]]:
    return {name: [row[i] for row in rows] for i, name in enumerate(header)}


# TSV: anything but the tab and the record ends (\n, \r); quotes are literal (GLUE has bare quotes).
TSV_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\t\n\r")
# CSV through the csv module: commas, quotes and \n inside cells are quoted by the writer.
CSV_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\r")


@FUZZ
@given(written=table(TSV_CHARS), ending=st.sampled_from(["\n", "\r\n"]), final=st.booleans(), bom=st.booleans())
@example(written=(["text", "label"], [["a\x85b", "1"]]), ending="\n", final=True, bom=False)  # NEL inside a cell
@example(written=(["text", "label"], [["a\u2028b\x0cc", "1"]]), ending="\n", final=True, bom=False)
def test_tsv_round_trips(written, ending, final, bom):
    header, rows = written
    text = ending.join("\t".join(cells) for cells in [header, *rows]) + (ending if final else "")
    with folder() as directory:
        with time_limit():
            assert read_table(write(directory, "data.tsv", ("\ufeff" if bom else "") + text)) == as_columns(header, rows)


@FUZZ
@given(written=table(CSV_CHARS), ending=st.sampled_from(["\n", "\r\n"]), quoting=st.sampled_from(
    [csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
@example(written=(["text", "label"], [["a\u2028b", "1"]]), ending="\r\n", quoting=csv.QUOTE_MINIMAL)
def test_csv_round_trips(written, ending, quoting):
    header, rows = written
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=ending, quoting=quoting).writerows([header, *rows])
    with folder() as directory:
        with time_limit():
            assert read_table(write(directory, "data.csv", buffer.getvalue())) == as_columns(header, rows)


@FUZZ
@given(keys=st.lists(st.text(ANY_CHAR, max_size=8), min_size=1, max_size=4, unique=True),
       data=st.data(), ascii_only=st.booleans(), ending=st.sampled_from(["\n", "\r\n"]))
@example(keys=["text"], data=None, ascii_only=False, ending="\n")  # raw U+2028 inside a JSON string
def test_jsonl_round_trips(keys, data, ascii_only, ending):
    if data is None:
        records = [{"text": "line\u2028separator \x85 inside"}]
    else:
        value = st.one_of(st.text(ANY_CHAR, max_size=30), st.integers(-10**6, 10**6), st.booleans())
        records = data.draw(st.lists(st.fixed_dictionaries({key: value for key in keys}), min_size=1, max_size=10))
    text = ending.join(json.dumps(record, ensure_ascii=ascii_only) for record in records) + ending
    with folder() as directory:
        with time_limit():
            columns = read_table(write(directory, "data.jsonl", text))
    assert columns == {key: [str(record[key]) for record in records] for key in records[0]}


# ----------------------------------------------------------------------------- load_task: custom files
LABELS = st.one_of(
    st.sampled_from(["0", "1", "2", " 1", "-1", "pos", "neg", "nan", "NaN", "", "None", "1.5", "0.25", "inf",
                     "1e400", "\u0663", "1_0", "True", "9" * 5000]),
    st.text(max_size=4),
)
TEXT_NAMES = ("text", "sentence", "review", "label", "premise", "hypothesis")


@st.composite
def task_files(draw):
    """A custom task: a file (or a train/dev directory) with plausible or hostile cells, labels and options."""
    label_column = draw(st.sampled_from(["label", "stars"]))
    texts = draw(st.lists(st.sampled_from([n for n in TEXT_NAMES if n != label_column]), min_size=1, max_size=3,
                          unique=True))
    header = [*texts, label_column]
    draw(st.randoms()).shuffle(header)
    hostile = draw(st.booleans())
    sentences = st.sampled_from(["good", "bad", "a fine film", "dull", "\"quoted\" , text", "it's ok"])
    cell = st.one_of(sentences, st.sampled_from([" ", ""]), st.text(max_size=15)) if hostile else sentences
    classes = LABELS if hostile else st.sampled_from(["1", "2", "3", "pos", "neg", "0.5"])
    class_pool = draw(st.lists(classes, min_size=1, max_size=4))
    # dev may use a label train never has (a 0 where train has 1 and 2), or an index instead of a name
    dev_pool = class_pool + draw(st.lists(st.sampled_from(["0", "1", "2", "5"]), max_size=2))

    def rows(labels: list[str], minimum: int, maximum: int) -> list[list[str]]:
        row = st.tuples(st.lists(cell, min_size=len(texts), max_size=len(texts)), st.sampled_from(labels))
        drawn = draw(st.lists(row.map(lambda r: r[0] + [r[1]]), min_size=minimum, max_size=maximum))
        by_name = [dict(zip([*texts, label_column], r)) for r in drawn]  # drawn text columns first, label last
        return [[values[name] for name in header] for values in by_name]

    files = {"train": rows(class_pool, 0 if hostile else 4, 30)}
    if draw(st.booleans()):
        files["dev"] = rows(dev_pool, 0 if hostile else 1, 8)
    request = dict(
        text_columns=draw(st.one_of(st.just(()), st.lists(st.sampled_from(header), min_size=1, max_size=2).map(tuple))),
        label_column=label_column,
        train_size=draw(st.one_of(st.none(), st.integers(-2, 40), st.just(10**12))),
        carve_size=draw(st.one_of(st.none(), st.integers(-1, 10))),
        seed=draw(st.integers(0, 2**40)),
    )
    return draw(st.sampled_from(SUFFIXES)), header, files, request


def serialise(suffix: str, header: list[str], rows: list[list[str]]) -> str:
    if suffix == ".jsonl":
        return "".join(json.dumps(dict(zip(header, row))) + "\n" for row in rows)
    if suffix == ".csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
        return buffer.getvalue()
    return "".join("\t".join(cells) + "\n" for cells in [header, *rows])


def integer(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def assert_well_formed_task(data, request: TaskRequest, dev_labels: list[str] | None) -> None:
    spec = data.spec
    assert spec.text_columns and spec.num_labels >= 1
    splits = {"train": data.train, "dev": data.dev, **({"test": data.test} if data.test is not None else {})}
    for split in splits.values():
        assert len(split) >= 1
        for name in spec.text_columns:
            assert all(isinstance(t, str) and t.strip() for t in split[name]), f"text column {name!r} lost its text"
        for label in split["label"]:
            if spec.is_regression:
                assert isinstance(label, float) and math.isfinite(label)
            else:
                assert isinstance(label, int) and 0 <= label < spec.num_labels
    if not spec.is_regression:
        assert len(spec.label_names) == spec.num_labels >= 2
    if request.train_size is not None:
        assert len(data.train) == min(request.train_size, data.full_train_size)
        assert (request.train_size > data.full_train_size) == any("all used" in n for n in data.notes)
    if dev_labels is not None and not spec.is_regression:
        # a dev label is one of train's classes by name; only where no class name is an integer may an
        # integer label index the classes (GLUE style)
        names = spec.label_names
        dev_file = data.test if data.splits.heldout == DEV_FILE else data.dev  # dev-from-train: it is held-out
        for raw, label in zip(dev_labels, dev_file["label"]):
            if raw.strip() in names:
                assert names[label] == raw.strip(), f"dev label {raw!r} became class {names[label]!r}"
            else:
                assert not any(integer(n) for n in names) and int(raw) == label, (raw, label, names)


@TASK_FUZZ
@given(task=task_files())
def test_custom_task_files_load_or_are_refused(task):
    suffix, header, files, options = task
    with folder() as directory:
        for split, rows in files.items():
            write(directory, f"{split}{suffix}", serialise(suffix, header, rows))
        where = directory if "dev" in files else directory / f"train{suffix}"
        request = TaskRequest(str(where), **options)
        with time_limit():
            try:
                data = load_task(request)
            except UserError as error:
                assert_one_line(error)
                return
    label_index = header.index(options["label_column"])
    dev_labels = [row[label_index] for row in files["dev"]] if "dev" in files else None
    assert_well_formed_task(data, request, dev_labels)


@TASK_FUZZ
@given(train=NOISY_TEXT, label=LABELS, train_size=st.one_of(st.none(), st.integers(-2, 10**12)))
def test_glue_layout_with_hostile_train_file_loads_or_is_refused(train, label, train_size):
    with folder() as directory:
        (directory / "sst2").mkdir()
        write(directory / "sst2", "train.tsv", "sentence\tlabel\n" + train)
        write(directory / "sst2", "dev.tsv", f"sentence\tlabel\nok\t1\nfine\t{label}\n")
        request = TaskRequest("sst2", str(directory), train_size=train_size)
        with time_limit():
            try:
                data = load_task(request)
            except UserError as error:
                assert_one_line(error)
                return
    assert_well_formed_task(data, request, ["1", label])


@settings(TASK_FUZZ, max_examples=60)
@given(classes=st.lists(st.text(TSV_CHARS, min_size=1, max_size=6).filter(
           lambda s: s == s.strip() and s.lower() not in ("nan", "none", "null", "na")), min_size=2, max_size=4,
           unique=True),
       sentences=st.lists(st.text(TSV_CHARS, min_size=1, max_size=20).filter(str.strip), min_size=12, max_size=30),
       suffix=st.sampled_from(SUFFIXES))
def test_valid_custom_tasks_load_with_every_row_and_label(classes, sentences, suffix):
    assume(not all(number(c) for c in classes))  # numbers that are not all integers make a regression task
    header = ["text", "label"]
    train = [[s, classes[i % len(classes)]] for i, s in enumerate(sentences)]
    dev = [[s, classes[(i + 1) % len(classes)]] for i, s in enumerate(sentences[:6])]
    with folder() as directory:
        write(directory, f"train{suffix}", serialise(suffix, header, train))
        write(directory, f"dev{suffix}", serialise(suffix, header, dev))
        request = TaskRequest(str(directory))
        with time_limit():
            data = load_task(request)
    assert set(data.spec.label_names) == set(classes)
    assert data.sizes() == {"train": len(train), "dev": len(dev)}
    assert list(data.train["text"]) == [row[0] for row in train]
    assert [data.spec.label_names[i] for i in data.train["label"]] == [row[1] for row in train]
    assert_well_formed_task(data, request, [row[1] for row in dev])


# ----------------------------------------------------------------------------- what the fuzzing found, pinned
def refused(path: Path, fragment: str) -> None:
    with time_limit(), pytest.raises(UserError) as caught:
        read_table(path)
    assert_one_line(caught.value)
    assert fragment in str(caught.value)


def test_json_nesting_and_huge_integers_are_refused_not_crashes(tmp_path):
    refused(write(tmp_path, "deep.jsonl", "[" * 100_000), "deep.jsonl:1: not valid JSON")
    refused(write(tmp_path, "big.jsonl", '{"text": "a", "label": ' + "9" * 5000 + "}\n"), "big.jsonl:1: not valid JSON")


def test_unpaired_surrogate_escapes_in_json_are_refused(tmp_path):
    rows = "".join(json.dumps({"text": f"t{i}", "label": i % 2}) + "\n" for i in range(10))
    path = write(tmp_path, "s.jsonl", rows + '{"text": "broken \\udc80 text", "label": 1}\n')
    refused(path, "s.jsonl:11:")
    with pytest.raises(UserError, match="s.jsonl:11:"):
        load_task(TaskRequest(str(path)))


def test_json_objects_without_fields_are_refused(tmp_path):
    refused(write(tmp_path, "empty.jsonl", "{}\n{}\n"), "empty.jsonl:1:")


def test_non_utf8_after_a_byte_order_mark_names_the_right_line(tmp_path):
    path = write(tmp_path, "bom.tsv", b"\xef\xbb\xbftext\tlabel\nok\t1\nbad \xff\t0\n")
    refused(path, "bom.tsv:3: not valid UTF-8 (byte 0xff)")


@pytest.mark.parametrize("name,content,expected", [
    ("nel.tsv", "text\tlabel\na\x85b\t1\nc\u2028d\x0ce\t0\n", {"text": ["a\x85b", "c\u2028d\x0ce"], "label": ["1", "0"]}),
    ("ls.csv", 'text,label\n"a\u2028b",1\nc\x1dd,0\n', {"text": ["a\u2028b", "c\x1dd"], "label": ["1", "0"]}),
    ("ls.jsonl", '{"text": "a\u2028b\u2029c", "label": 1}\n', {"text": ["a\u2028b\u2029c"], "label": ["1"]}),
])
def test_unicode_line_separators_stay_inside_their_cell(tmp_path, name, content, expected):
    assert read_table(write(tmp_path, name, content)) == expected


def test_line_numbers_count_only_real_line_ends(tmp_path):
    refused(write(tmp_path, "n.tsv", "text\tlabel\na\u2028b\t1\nbroken\n"), "n.tsv:3: expected 2 fields")


def test_jsonl_cells_are_capped_like_tsv_and_csv_cells(tmp_path):
    rows = "".join(json.dumps({"text": f"t{i}", "label": i % 2}) + "\n" for i in range(10))
    path = write(tmp_path, "long.jsonl", rows + json.dumps({"text": "a" * (MAX_CELL_CHARS + 1), "label": 0}) + "\n")
    refused(path, "long.jsonl:11:")


def test_an_unreadable_file_is_a_user_error(tmp_path, monkeypatch):
    path = write(tmp_path, "locked.tsv", "text\tlabel\na\t1\n")

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    refused(path, "locked.tsv: cannot read the file (Permission denied)")


def test_dev_labels_are_train_classes_by_name_not_by_index(tmp_path):
    write(tmp_path, "train.tsv", "text\tlabel\n" + "".join(f"t{i}\t{i % 2 + 1}\n" for i in range(10)))
    write(tmp_path, "dev.tsv", "text\tlabel\na\t2\nb\t0\n")  # stars 1 and 2 in train; a 0 in dev is not "1"
    with pytest.raises(UserError, match=r"dev.tsv:3: label '0' is not one of 1, 2; pass --drop-invalid-rows to drop such rows$"):
        load_task(TaskRequest(str(tmp_path)))
    write(tmp_path, "dev.tsv", "text\tlabel\na\t2\nb\t1\n")
    assert list(load_task(TaskRequest(str(tmp_path))).dev["label"]) == [1, 0]


@pytest.mark.parametrize("header,options,fragment", [
    ("label,stars", {"label_column": "stars"}, "column 'label' cannot be a text column"),  # "label" holding text
    ("text,label", {"text_columns": ("text", "label")}, "column 'label' cannot be a text column"),  # label as text
])
def test_a_text_column_cannot_be_the_label(tmp_path, header, options, fragment):
    path = write(tmp_path, "clash.csv", header + "\n" + "".join(f"words {i},{i % 2}\n" for i in range(20)))
    with pytest.raises(UserError, match=fragment) as caught:
        load_task(TaskRequest(str(path), **options))
    assert_one_line(caught.value)


def test_unprintable_column_names_keep_the_message_on_one_line(tmp_path):
    path = write(tmp_path, "names.csv", '"a\nb",c,label\nx,y,1\n')
    with pytest.raises(UserError, match="cannot tell which columns") as caught:
        load_task(TaskRequest(str(path)))
    assert_one_line(caught.value)


def test_a_device_or_pipe_is_not_called_missing(tmp_path):
    os.mkfifo(tmp_path / "pipe.tsv")  # reading a FIFO nobody writes to would block forever
    with time_limit(), pytest.raises(UserError, match="pipe.tsv is not a regular file"):
        load_task(TaskRequest(str(tmp_path / "pipe.tsv")))
    with pytest.raises(UserError, match="/dev/null is not a regular file"):
        load_task(TaskRequest("/dev/null"))
    refused(tmp_path / "pipe.tsv", "pipe.tsv is not a regular file")


@pytest.mark.parametrize("size", [0, -1])
def test_a_train_size_below_one_is_refused(data_dir, size):
    with pytest.raises(UserError, match="train size"):
        load_task(TaskRequest("sst2", data_dir, train_size=size))
