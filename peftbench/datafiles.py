"""Strict readers for the data files users hand us (TSV, CSV, JSONL).

Every problem ends in a :class:`UserError` naming the file and line, so a malformed row is reported
instead of silently dropped or turned into NaN (pandas' default for cells like ``NA``).
GLUE TSVs contain bare quote characters inside sentences, so TSV is read with quoting off.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from peftbench.errors import UserError

SUFFIXES = (".tsv", ".csv", ".jsonl")
MAX_CELL_CHARS = 1_000_000  # a cell longer than this is not a sentence; refuse it instead of stalling
# Only these end a line in a data file; str.splitlines() would also split at \x0b, \x0c, \x1c-\x1e, \x85,
# U+2028 and U+2029, which are ordinary characters inside a sentence (or a JSON string).
LINE_END = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """``text.splitlines()``, but breaking lines only at \\r\\n, \\r and \\n."""
    lines = LINE_END.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def names(values) -> str:
    """Column names for a one-line message: as they are, or quoted where they hold unprintable characters."""
    return ", ".join(str(v) if str(v).isprintable() else repr(v) for v in values)


def read_table(path: Path) -> dict[str, list[str]]:
    """Read a data file into columns of strings, validating every row."""
    if not path.is_file():
        raise UserError(f"data file {path} " + ("is not a regular file" if path.exists() else "does not exist"))
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise UserError(f"{path}: unsupported file type {suffix or '(none)'}; use one of {', '.join(SUFFIXES)}")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise UserError(f"{path}: cannot read the file ({error.strerror or type(error).__name__})") from None
    except UnicodeDecodeError as error:
        line = error.object[: error.start].count(b"\n") + 1  # error.object: the bytes after any byte-order mark
        raise UserError(f"{path}:{line}: not valid UTF-8 (byte {error.object[error.start]:#04x}); re-save the file as UTF-8") from None
    if not text.strip():
        raise UserError(f"{path}: the file is empty")
    if suffix == ".jsonl":
        return _read_jsonl(path, text)
    return _read_delimited(path, text, "\t" if suffix == ".tsv" else ",")


def _read_delimited(path: Path, text: str, delimiter: str) -> dict[str, list[str]]:
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    csv.field_size_limit(MAX_CELL_CHARS)
    lines = split_lines(text)
    if lines and not lines[-1].strip():
        lines.pop()
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter, quoting=quoting, strict=True)
    try:
        header = next(reader)
    except csv.Error as error:
        raise UserError(f"{path}:1: malformed header ({error})") from None
    header = [name.strip() for name in header]
    if not all(header):
        raise UserError(f"{path}:1: the header has an empty column name: {header}")
    if len(set(header)) != len(header):
        raise UserError(f"{path}:1: the header repeats a column name: {header}")
    columns: dict[str, list[str]] = {name: [] for name in header}
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                raise UserError(f"{path}:{line}: empty row")
            if len(row) != len(header):
                raise UserError(f"{path}:{line}: expected {len(header)} fields ({names(header)}), found {len(row)}")
            for name, cell in zip(header, row):
                columns[name].append(cell)
    except csv.Error as error:
        raise UserError(f"{path}:{reader.line_num}: malformed row ({error})") from None
    if not columns[header[0]]:
        raise UserError(f"{path}: has a header but no rows")
    return columns


def _read_jsonl(path: Path, text: str) -> dict[str, list[str]]:
    columns: dict[str, list[str]] = {}
    rows = 0
    lines = split_lines(text)
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            if line_number == len(lines):
                continue
            raise UserError(f"{path}:{line_number}: empty row")
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise UserError(f"{path}:{line_number}: not valid JSON ({error.msg})") from None
        except ValueError:  # json.loads refuses integers of more than 4,300 digits with a plain ValueError
            raise UserError(f"{path}:{line_number}: not valid JSON (a number too long to read)") from None
        except RecursionError:
            raise UserError(f"{path}:{line_number}: not valid JSON (nested too deeply)") from None
        if not isinstance(record, dict):
            raise UserError(f"{path}:{line_number}: expected a JSON object per line, found {type(record).__name__}")
        if not record:
            raise UserError(f"{path}:{line_number}: the JSON object has no fields")
        if rows == 0:
            columns = {str(key): [] for key in record}
        elif set(record) != set(columns):
            raise UserError(f"{path}:{line_number}: keys {sorted(record)} differ from the first line's {sorted(columns)}")
        for key, value in record.items():
            if isinstance(value, (dict, list)):
                raise UserError(f"{path}:{line_number}: field {key!r} must be a string or number, not {type(value).__name__}")
            cell = "" if value is None else str(value)
            if len(cell) > MAX_CELL_CHARS:
                raise UserError(f"{path}:{line_number}: field {key!r} is longer than {MAX_CELL_CHARS:,} characters")
            try:  # "\ud800" is valid JSON but not text: it can be neither tokenised nor written out
                key.encode("utf-8"), cell.encode("utf-8")
            except UnicodeEncodeError:
                raise UserError(f"{path}:{line_number}: field {key!r} holds an unpaired surrogate (\\ud800-\\udfff)") from None
            columns[str(key)].append(cell)
        rows += 1
    if rows == 0:
        raise UserError(f"{path}: the file has no rows")
    return columns
