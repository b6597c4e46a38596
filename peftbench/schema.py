"""``results.json``: its schema version, its kind, and turning it into records (``peftbench.records``) and back.

One codec for every record: a dataclass is written field by field (:func:`to_json`), and read back field by
field against its own type hints (:func:`from_json`), so nothing declares a field twice. Every problem with a
file (missing, truncated, another schema, not a comparison, a field of the wrong type) is one
:class:`UserError` line naming the file and the field; the report commands never show a traceback for it.

**Schema versions.** A file written by an earlier version is migrated on reading, one version at a time
(:data:`MIGRATIONS`), and reported without what that version did not record; a version older than the oldest
migration, or newer than this peftbench, is refused in one line that says what to do. docs/results-schema.md
lists what each version added.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, Callable, TypeVar, Union

from peftbench.errors import UserError
from peftbench.layout import RESULTS_FILE, write_atomic
from peftbench.records import CARVED, DEV_FILE, NOT_STORED, TEST_FILE_SOURCE, ComparisonRecord

# 2: every strategy carries its declared StrategyInfo ("info")
# 3: the splits' sources as data (task.splits), a strategy's error and status "partial", the comparison's "partial"
SCHEMA_VERSION = 3
KIND = "peftbench-comparison"
Record = TypeVar("Record")


# ----------------------------------------------------------------------------- writing
def to_json(value: Any) -> Any:
    """A record as JSON values: dataclasses field by field (fields marked NOT_STORED left out), recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.metadata != NOT_STORED}
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def save_results(record: ComparisonRecord, directory: Path) -> Path:
    """Write ``results.json`` whole or not at all."""
    path = Path(directory) / RESULTS_FILE
    write_atomic(path, json.dumps(to_json(record), indent=2, default=str) + "\n")
    return path


# ----------------------------------------------------------------------------- reading
class _Field:
    """Where a value sits in a file, for error messages: ``results.json: strategies.lora.seed_runs[0].seed``."""

    def __init__(self, file: Path, where: str):
        self.file, self.where = file, where

    def child(self, key: str | int) -> "_Field":
        if isinstance(key, int):
            return _Field(self.file, f"{self.where}[{key}]")
        return _Field(self.file, f"{self.where}.{key}" if self.where else key)

    def fail(self, expected: str, found: Any) -> UserError:
        return UserError(f"{self.file}: {self.where or 'the top level'} must be {expected}, found {describe(found)}")


def describe(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), type(value).__name__)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def from_json(kind: Any, value: Any, at: _Field) -> Any:
    """``value`` checked against the type ``kind`` (a type hint) and built into it: dataclasses from objects,
    lists, tuples and dicts item by item; ints accept integral numbers, floats any finite number."""
    origin = typing.get_origin(kind)
    if origin in (Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        last: UserError | None = None
        for option in (o for o in options if o is not type(None)):
            try:
                return from_json(option, value, at)
            except UserError as error:
                last = error
        raise last or at.fail("null", value)
    if kind is Any:
        return value
    if dataclasses.is_dataclass(kind):
        return _dataclass(kind, value, at)
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise at.fail("an array", value)
        args = typing.get_args(kind)
        if origin is tuple and args and args[-1] is not Ellipsis:  # a fixed-length tuple, e.g. (samples, value)
            if len(value) != len(args):
                raise at.fail(f"an array of {len(args)}", value)
            return tuple(from_json(arg, item, at.child(i)) for i, (arg, item) in enumerate(zip(args, value)))
        items = [from_json(args[0] if args else Any, item, at.child(i)) for i, item in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise at.fail("a JSON object", value)
        item_kind = typing.get_args(kind)[1] if typing.get_args(kind) else Any
        return {key: from_json(item_kind, item, at.child(key)) for key, item in value.items()}
    if kind is bool:
        if not isinstance(value, bool):
            raise at.fail("true or false", value)
        return value
    if kind is int:
        if not is_number(value) or value != int(value):
            raise at.fail("an integer", value)
        return int(value)
    if kind is float:
        if not is_number(value):
            raise at.fail("a finite number", value)
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise at.fail("a string", value)
        return value
    if kind is Path:
        return Path(from_json(str, value, at))
    raise TypeError(f"peftbench.schema cannot read a field of type {kind!r}")  # a record declared a type we do not read


def parse(kind: type[Record], value: Any, source: str) -> Record:
    """A record of type ``kind`` from JSON values (e.g. a RunResult kept in an Optuna trial's attributes);
    ``source`` names where they came from in an error."""
    return from_json(kind, value, _Field(Path(source), ""))


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)


def _dataclass(kind: type, value: Any, at: _Field) -> Any:
    if not isinstance(value, dict):
        raise at.fail("a JSON object", value)
    hints = _hints(kind)
    values = {}
    for f in dataclasses.fields(kind):
        if f.metadata == NOT_STORED:
            continue
        if f.name not in value:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise UserError(f"{at.file}: {at.child(f.name).where} is missing; the file is not a complete "
                                f"{RESULTS_FILE}")
            continue
        values[f.name] = from_json(hints[f.name], value[f.name], at.child(f.name))
    return kind(**values)


def results_path(directory: Path) -> Path:
    """The results.json of a comparison directory (a path to the file itself is accepted too)."""
    directory = Path(directory)
    if directory.is_file() and directory.name == RESULTS_FILE:
        return directory
    if not directory.exists():
        raise UserError(f"{directory} does not exist; pass a comparison directory written by runners.compare")
    if not directory.is_dir():
        raise UserError(f"{directory} is not a directory; pass a comparison directory written by runners.compare")
    path = directory / RESULTS_FILE
    if not path.is_file():
        raise UserError(f"{directory} has no {RESULTS_FILE}; run python -m runners.compare with --out {directory} "
                        "first")
    return path


def read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UserError(f"{path}: cannot read the file ({error.strerror or type(error).__name__})") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text; it is corrupt — re-run python -m runners.compare to rewrite "
                        "it") from None
    if not text.strip():
        raise UserError(f"{path} is empty; re-run python -m runners.compare to rewrite it")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(f"{path} is not valid JSON ({error.msg} at line {error.lineno} column {error.colno}); "
                        f"it is truncated or corrupt — re-run python -m runners.compare to rewrite it") from None
    except (ValueError, RecursionError) as error:
        raise UserError(f"{path} is not valid JSON ({type(error).__name__}); re-run python -m runners.compare "
                        "to rewrite it") from None


def load_results(directory: Path | str) -> ComparisonRecord:
    """Load, migrate and validate one comparison; raises :class:`UserError` with one clear line on any problem."""
    path = results_path(Path(directory))
    data = read_json(path)
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind != KIND:
        found = f"kind {kind!r}" if isinstance(data, dict) else f"{describe(data)}, not an object"
        raise UserError(f"{path} is not a peftbench comparison ({found}; expected kind {KIND!r})")
    data = migrate(data, path)
    record = from_json(ComparisonRecord, data, _Field(path, ""))
    check(record, path)
    return dataclasses.replace(record, directory=path.parent)


def check(record: ComparisonRecord, path: Path) -> None:
    """What the types alone do not say: known families and costs, and that every seed run has the dev metric."""
    from peftbench.pareto import COSTS
    from peftbench.strategy import FAMILIES

    unknown = [name for name in record.costs if name not in COSTS]
    if unknown:
        raise UserError(f"{path}: settings.cost_objectives must be a list of {', '.join(COSTS)}, found {record.costs!r}")
    metric = record.task.metric
    for name, strategy in record.strategies.items():
        if strategy.info.family not in FAMILIES:
            raise UserError(f"{path}: strategies.{name}.info.family must be one of {', '.join(FAMILIES)}, found "
                            f"{strategy.info.family!r}")
        runs = [("seed_runs", i, r) for i, r in enumerate(strategy.seed_runs)] + \
            [(f"front[{j}].seed_runs", i, r) for j, f in enumerate(strategy.front) for i, r in enumerate(f.seed_runs)]
        for where, i, run in runs:
            if run.metrics.get("dev", {}).get(metric) is None:
                raise UserError(f"{path}: strategies.{name}.{where}[{i}].metrics.dev has no {metric!r}, the task's "
                                "metric (or it is null)")
        for j, config in enumerate(strategy.front):
            if metric not in config.values:
                raise UserError(f"{path}: strategies.{name}.front[{j}].values has no {metric!r}, the task's metric")


# ----------------------------------------------------------------------------- earlier versions
def migrate(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """``data`` of any schema version this peftbench reads, brought to :data:`SCHEMA_VERSION`."""
    version = data.get("schema_version")
    if not is_number(version) or version != int(version):
        raise UserError(f"{path}: schema_version must be an integer, found {describe(version)}")
    version = int(version)
    oldest = min(MIGRATIONS, default=SCHEMA_VERSION)
    if version < oldest:
        raise UserError(f"{path} has schema version {version}, older than the oldest this peftbench reads "
                        f"({oldest}); re-run the comparison (python -m runners.compare with the same flags and "
                        "--out) to rewrite it")
    if version > SCHEMA_VERSION:
        raise UserError(f"{path} has schema version {version}, written by a newer peftbench (this one reads up to "
                        f"version {SCHEMA_VERSION}); upgrade peftbench to read it")
    while version < SCHEMA_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
        data["schema_version"] = version
    return data


def _from_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 described the splits in a note ("held-out split: ..."); version 3 records them as data, records
    failures (no strategy of a version-2 file has one: it is read as it was) and TPE's start-up trials (version 2
    derived them from the budget as below). Fields version 2 let a file leave out get the values it read then."""
    data = {"preset": "custom", "settings": {}, "environment": {}, "parallel": False, "complete": False,
            "created": "", "updated": "", **data}
    budget = (data.get("budget") or {}).get("per_strategy")
    data["settings"] = {"startup_trials": min(4, max(1, int(budget) // 2)) if is_number(budget) else 1,
                        **data["settings"]}
    task = {"protocol": "", "source": "", "full_train_size": None, "notes": [], **(data.get("task") or {})}
    note = task.pop("heldout", "") or ""
    task["splits"] = _splits_from_note(note, task.get("protocol", ""), (data.get("settings") or {}).get("data_seed"))
    if any(str(n).startswith("no dev file") for n in task.get("notes") or []):  # a custom task's dev, cut from train
        task["splits"]["dev"] = CARVED
    if not task["protocol"]:  # a file from before the protocol was recorded: the one its splits followed
        task["protocol"] = {CARVED: "heldout-from-train", DEV_FILE: "dev-from-train",
                            TEST_FILE_SOURCE: "test-file"}.get(task["splits"]["heldout"], "")
    task["notes"] = [n for n in task["notes"] if not str(n).lower().startswith(("held-out split", "no dev file"))]
    strategies = {name: _strategy_from_v2(record) if isinstance(record, dict) else record
                  for name, record in (data.get("strategies") or {}).items()}
    return {**data, "task": task, "strategies": strategies, "partial": []}


def _strategy_from_v2(record: dict[str, Any]) -> dict[str, Any]:
    runs = [{**run, "strategy_info": run.get("strategy_info") or None} if isinstance(run, dict) else run
            for run in record.get("seed_runs") or []]
    return {**record, "error": None, "seed_runs": runs} if "seed_runs" in record else {**record, "error": None}


def _splits_from_note(note: str, protocol: str, seed: Any) -> dict[str, Any]:
    """The split sources a version-2 note described: "held-out split: N examples carved from train (seed S, ...)",
    "held-out split: the dev file (...); dev: N examples carved from train (...)", or the task's own test split
    (files from before task.protocol existed have only the note; its wording decides there)."""
    found = re.search(r"\(seed (\d+)", note)
    carve_seed = int(found.group(1)) if found else seed
    text = note.lower()
    if protocol == "dev-from-train" or text.startswith("held-out split: the dev file"):
        return {"dev": CARVED, "heldout": DEV_FILE, "seed": carve_seed}
    if protocol == "heldout-from-train" or "carved from train" in text:
        return {"dev": DEV_FILE, "heldout": CARVED, "seed": carve_seed}
    if protocol == "test-file" or "test split" in text:
        return {"dev": DEV_FILE, "heldout": TEST_FILE_SOURCE, "seed": None}
    return {"dev": DEV_FILE, "heldout": None, "seed": None}


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {2: _from_v2}  # version → the step to the next
