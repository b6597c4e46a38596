"""Hostile input through the command line, run as a user runs it (``python -m runners.train`` /
``python -m runners.compare``): every case ends in one line on stderr and exit code 2 — or in the
documented recovery — never a traceback, never a hang, never a written or half-overwritten result.

Complements tests/test_cli_train.py and tests/test_compare.py; what they cover (a negative --seed, a bad
--strategy or --trials) is not repeated. The wrong PostgreSQL password is tried on the real server when
PEFTBENCH_TEST_POSTGRES_URL names one (CI), so the server's own refusal is checked, else on a closed port.
The readers themselves are fuzzed in-process in tests/test_fuzz_inputs.py; here each kind of bad file is
checked once, end to end.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.test_cli_train import assert_one_line_error, run_cli

TIMEOUT = 120  # seconds; far above any of these runs, so a hang fails the test instead of stalling the suite
TEN_MB = 10 * 2**20


def assert_no_run_written(out: Path) -> None:
    assert not (out / "result.json").exists()
    assert not out.exists(), f"a refused run left {sorted(p.name for p in out.iterdir())}"


# ----------------------------------------------------------------------------- runners.train: data files
@pytest.mark.parametrize("name,content,fragment", [
    ("empty.tsv", b"", "empty.tsv: the file is empty"),
    ("reviews.csv", b"text,stars\ngood,1\nbad,0\n", "reviews.csv: no label column 'label'; the file has text, stars"),
    ("latin1.tsv", b"text\tlabel\ngood\t1\nun \xe9t\xe9 triste\t0\n", "latin1.tsv:3: not valid UTF-8 (byte 0xe9)"),
    ("nan.csv", b"text,label\ngood,1\nbad,NaN\nfine,0\n", "nan.csv:3: label is missing ('NaN')"),
    ("blob.tsv", b"x" * TEN_MB, "blob.tsv:1: malformed header (field larger than field limit (1000000))"),
], ids=["empty", "no-label-column", "not-utf8", "label-nan", "10MB-single-line"])
def test_bad_data_file(name, content, fragment, tmp_path, tiny_model):
    path = tmp_path / name
    path.write_bytes(content)
    out = tmp_path / "out"
    started = time.monotonic()
    process = run_cli("runners.train", "--task", str(path), "--model", tiny_model, "--strategy", "frozen",
                      "--out", str(out), "--quiet", timeout=TIMEOUT)
    assert_one_line_error(process, fragment)
    assert time.monotonic() - started < 60  # the 10 MB line is refused at the cell cap, not tokenised
    assert_no_run_written(out)


# ----------------------------------------------------------------------------- runners.train: flags
@pytest.mark.parametrize("args,fragment", [
    (["--max-length", "0"], "argument --max-length: must be a positive integer, got '0'"),
    (["--batch-size", "-1"], "argument --batch-size: must be a positive integer, got '-1'"),
    (["--lr", "nan"], "argument --lr: must be a positive finite number, got 'nan'"),
    (["--lr", "inf"], "argument --lr: must be a positive finite number, got 'inf'"),
    (["--epochs", "abc"], "argument --epochs: must be an integer, got 'abc'"),
], ids=["max-length-0", "batch-size-negative", "lr-nan", "lr-inf", "epochs-abc"])
def test_bad_train_flag(args, fragment, tmp_path, tiny_model):
    out = tmp_path / "out"
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    process = run_cli("runners.train", "--task", "sst2", "--model", tiny_model, *args, "--out", str(out), "--quiet",
                      timeout=TIMEOUT)
    assert_one_line_error(process, fragment.replace("{tmp}", str(tmp_path)))
    assert_no_run_written(out)


def test_a_huge_train_size_uses_every_row_and_says_so(tmp_path, tiny_model, data_dir):
    """The documented recovery: more training examples than the task has means all of them, noted in the record."""
    out = tmp_path / "out"
    process = run_cli("runners.train", "--task", "sst2", "--data-dir", data_dir, "--model", tiny_model,
                      "--strategy", "frozen", "--train-size", str(10**12), "--out", str(out), "--quiet",
                      timeout=TIMEOUT)
    assert process.returncode == 0, process.stderr
    assert "Traceback" not in process.stderr
    record = json.loads((out / "result.json").read_text())
    assert record == json.loads(process.stdout)
    assert record["data_sizes"]["train"] == 96
    assert "asked for 1000000000000 training examples; the task has 96, all used" in record["data_notes"]


# ----------------------------------------------------------------------------- runners.compare
def bad_password_url() -> tuple[str, str]:
    """A PostgreSQL URL whose password is wrong: the CI server's when there is one, else a closed port."""
    password = "badpw-7f3c91"
    base = os.environ.get("PEFTBENCH_TEST_POSTGRES_URL")
    if not base:
        return f"postgresql://u:{password}@127.0.0.1:1/db", password
    parts = urlsplit(base)
    netloc = f"{parts.username}:{password}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc)), password


@pytest.fixture
def existing_comparison(tmp_path, tiny_model) -> Path:
    """A comparison directory that already holds a results.json: bad input must leave it byte for byte."""
    out = tmp_path / "comparison"
    out.mkdir()
    (out / "comparison.json").write_text(json.dumps({"task": "sst2", "model": tiny_model, "preset": "smoke"}))
    (out / "results.json").write_text('{"sentinel": "an earlier, finished comparison"}\n')
    return out


@pytest.mark.parametrize("args,fragment", [
    (["--storage", "{badpw}"], "cannot open storage postgresql://"),
    (["--storage", "sqlite:///{tmp}/missing/dir/optuna.db"], "cannot open storage sqlite:///{tmp}/missing/dir/optuna.db:"),
    (["--storage", "{tmp}/missing/dir/shared.journal"], "journal storage {tmp}/missing/dir/shared.journal: directory"),
    (["--workers", "0"], "argument --workers: must be a positive integer, got '0'"),
    (["--strategies", ""], "--strategies names no strategy"),
    (["--data-dir", "{tmp}/no/such/dir"], "--data-dir {tmp}/no/such/dir has no sst2/train.tsv"),
], ids=["postgres-bad-password", "sqlite-missing-dir", "journal-missing-dir", "workers-0", "strategies-empty",
        "data-dir-missing"])
def test_bad_compare_input(args, fragment, tmp_path, tiny_model, data_dir, existing_comparison):
    url, password = bad_password_url()

    def fill(text: str) -> str:
        return text.replace("{badpw}", url).replace("{tmp}", str(tmp_path))

    before = {p.name: p.read_bytes() for p in existing_comparison.iterdir()}
    process = run_cli("runners.compare", "--task", "sst2", "--preset", "smoke", "--model", tiny_model,
                      "--data-dir", data_dir, "--strategies", "frozen", "--trials", "1", "--seeds", "1",
                      "--out", str(existing_comparison), "--quiet", "--no-report", *map(fill, args), timeout=TIMEOUT)
    assert_one_line_error(process, fill(fragment))
    assert password not in process.stderr + process.stdout
    # nothing written, not even a log or a lock: every check runs before the first write
    assert {p.name: p.read_bytes() for p in existing_comparison.iterdir()} == before


# ----------------------------------------------------------------------------- regressions
# Bugs this file found in the runners: each used to end in a traceback (or printed a password).
@pytest.mark.parametrize("runner,args,fragment", [
    pytest.param("runners.train", ["--seed", str(2**32)], "seed", id="train-seed-past-2**32-1"),
    pytest.param("runners.train", ["--out", "{file}"], "{file}", id="train-out-is-a-file"),
    pytest.param("runners.train", ["--out", "{file}/x"], "is under {file}, which is a file", id="train-out-under-a-file"),
    pytest.param("runners.compare", ["--out", "{file}/x"], "is under {file}, which is a file",
                 id="compare-out-under-a-file"),
    pytest.param("runners.compare", ["--trials", str(10**15)], "--trials", id="compare-absurd-trials"),
    pytest.param("runners.compare", ["--storage", "postgresql://u:s3cr/et@127.0.0.1:1/db"], "cannot open storage",
                 id="compare-password-with-slash"),
    pytest.param("runners.compare", ["--storage", "postgresql://u:p@s3cr/et@127.0.0.1:1/db"], "u:***@127.0.0.1",
                 id="compare-password-with-at"),
    pytest.param("runners.train", ["--memory-cap-mb", "1"], "run failed: strategy frozen: process memory",
                 id="train-memory-cap-hit"),
])
def test_former_tracebacks_are_one_line_errors(runner, args, fragment, tmp_path, tiny_model, data_dir):
    existing_file = tmp_path / "a-file"
    existing_file.write_text("not a directory\n")
    out = tmp_path / "out"
    args = [a.replace("{file}", str(existing_file)) for a in args]
    common = ["--task", "sst2", "--model", tiny_model, "--data-dir", data_dir, "--strategy", "frozen", "--quiet"]
    if runner == "runners.compare":
        common = ["--task", "sst2", "--preset", "smoke", "--model", tiny_model, "--data-dir", data_dir,
                  "--strategies", "frozen", "--seeds", "1", "--quiet", "--no-report"]
    if "--out" not in args:
        args += ["--out", str(out)]
    process = run_cli(runner, *common, *args, timeout=TIMEOUT)
    expected_code = 1 if "run failed" in fragment else 2
    assert process.returncode == expected_code, process.stderr
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in process.stderr, process.stderr
    assert fragment.replace("{file}", str(existing_file)) in lines[0]
    assert "s3cr/et" not in process.stderr
    assert existing_file.read_text() == "not a directory\n"
    assert not (out / "result.json").exists() and not (out / "results.json").exists()


def test_no_local_data_and_no_hub_is_one_line_at_once(tmp_path, tiny_model):
    """Offline with no local copy: one line naming where it looked and why the hub failed, found by a probe, not
    after datasets' ~25 s of retry warnings (the regression); nothing written. The hub is a closed local port."""
    import subprocess
    import sys

    from tests.test_cli_train import ROOT

    hub_vars = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
                "ALL_PROXY", "all_proxy")
    env = {k: v for k, v in os.environ.items() if k not in hub_vars}
    env.update(PYTHONPATH=str(ROOT), PEFTBENCH_DATA_DIR=str(tmp_path / "empty"), HF_ENDPOINT="http://127.0.0.1:9")
    out = tmp_path / "out"
    process = subprocess.run([sys.executable, "-m", "runners.compare", "--task", "sst2", "--preset", "smoke",
                              "--model", tiny_model, "--strategies", "frozen", "--out", str(out), "--quiet"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert_one_line_error(process, f"task sst2: no local copy (looked in {tmp_path / 'empty'}) and the Hugging Face "
                                   "hub is not reachable (127.0.0.1:9: ")
    assert "--data-dir DIR holding sst2/train.tsv" in process.stderr
    assert_no_run_written(out)
