"""A data-size sweep's manifest, ``<sweep>/sweep.json``: the sizes asked for so far, each a comparison in
``train-<size>/`` (``peftbench.layout.SweepDir``); and the ``--train-sizes`` list that names them. The runner writes
it before the first size runs; the reports read it to find the sizes."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from peftbench.errors import UserError
from peftbench.layout import ALL_SIZES, SWEEP_FILE, size_dir, size_label
from peftbench.schema import read_json

SWEEP_KIND = "peftbench-sweep"
SWEEP_SCHEMA = 1

Size = int | None  # training examples asked for; None: all of them


def parse_train_sizes(text: str) -> list[Size]:
    """``--train-sizes``: positive whole numbers and ``all``, each once, at least two; ascending, all last."""
    sizes: list[Size] = []
    for part in (piece.strip() for piece in text.split(",")):
        if part.lower() == ALL_SIZES:
            size: Size = None
        elif part.isascii() and part.isdigit() and int(part) > 0:
            size = int(part)
        else:
            raise UserError(f"--train-sizes: {part!r} is not a positive whole number or 'all' "
                            f"(e.g. --train-sizes 100,500,1000,all)")
        if size in sizes:
            raise UserError(f"--train-sizes names {size_label(size)} twice")
        sizes.append(size)
    if len(sizes) < 2:
        raise UserError("--train-sizes needs at least two sizes; for one comparison use --train-size N")
    return sorted(sizes, key=size_order)


def size_order(size: Size) -> float:
    return math.inf if size is None else size


def manifest_text(task: str, model: str, preset: str, sizes: list[Size], existing: dict[str, Any] | None) -> str:
    """``sweep.json``: the sizes of this command together with those an earlier command of the sweep ran."""
    known = manifest_sizes(existing) if existing else []
    merged = sorted(set(known) | set(sizes), key=size_order)
    return json.dumps({"schema_version": SWEEP_SCHEMA, "kind": SWEEP_KIND, "task": task, "model": model,
                       "preset": preset, "sizes": [ALL_SIZES if s is None else s for s in merged],
                       "directories": [size_dir(s) for s in merged]}, indent=2) + "\n"


def read_manifest(directory: Path) -> dict[str, Any] | None:
    """The sweep manifest in ``directory``, or None when there is none; a broken one is one UserError."""
    path = Path(directory) / SWEEP_FILE
    if not path.is_file():
        return None
    data = read_json(path)
    if not isinstance(data, dict) or data.get("kind") != SWEEP_KIND:
        raise UserError(f"{path} is not a peftbench sweep manifest")
    if data.get("schema_version") != SWEEP_SCHEMA:
        raise UserError(f"{path} has sweep schema version {data.get('schema_version')!r}; this peftbench reads "
                        f"version {SWEEP_SCHEMA}")
    manifest_sizes(data, path)
    return data


def manifest_sizes(data: dict[str, Any], path: Path | None = None) -> list[Size]:
    sizes = data.get("sizes")
    valid = isinstance(sizes, list) and all(s == ALL_SIZES or (isinstance(s, int) and not isinstance(s, bool) and s > 0)
                                            for s in sizes)
    if not valid:
        raise UserError(f"{path or SWEEP_FILE}: sizes must be a list of positive whole numbers and 'all'")
    return [None if s == ALL_SIZES else s for s in sizes]


def is_sweep(directory: Path | str) -> bool:
    return (Path(directory) / SWEEP_FILE).is_file()
