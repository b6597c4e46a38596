"""A split's rows as equal-length named columns (the text columns and ``label``): what the core reads from a
split, with no data library. Reading a local task needs nothing more; only a task from the Hugging Face hub
goes through the ``datasets`` library, and is turned into this on loading."""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from typing import Any, Sequence


class Columns:
    """Named columns of equal length. ``split["label"]`` is a column, ``split[3]`` a row (a dict), as a
    ``datasets.Dataset`` answers; :meth:`select` keeps some rows, in the given order."""

    def __init__(self, columns: dict[str, list[Any]]):
        lengths = {len(values) for values in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns must have equal lengths, got {sorted(lengths)}")
        self._columns = {name: list(values) for name, values in columns.items()}
        self._rows = lengths.pop() if lengths else 0

    def __len__(self) -> int:
        return self._rows

    def __getitem__(self, key: str | int) -> list[Any] | dict[str, Any]:
        if isinstance(key, str):
            return self._columns[key]
        return {name: values[key] for name, values in self._columns.items()}

    @property
    def column_names(self) -> list[str]:
        return list(self._columns)

    def select(self, indices: Sequence[int]) -> Columns:
        return Columns({name: [values[i] for i in indices] for name, values in self._columns.items()})

    @cached_property
    def fingerprint(self) -> str:
        """A digest of the content: the key under which tokenised splits are cached (``peftbench.data``)."""
        return hashlib.sha256(json.dumps(self._columns, sort_keys=True).encode()).hexdigest()[:16]
