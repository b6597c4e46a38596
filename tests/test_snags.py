"""What a new user ran into, each pinned: a refused comparison leaves nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

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
                   "--strategies", "frozen", "--trials", "1", "--seeds", "1", "--heldout-size", "8", "--out", str(out),
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
                        "--trials", "1", "--seeds", "1", "--heldout-size", "8", "--out", str(tmp_path / "out"),
                        "--quiet", "--no-report"])
    assert code == 0
    assert len(calls) == 1
