"""Everything that can refuse a comparison, checked before anything is written: a refused command leaves no
``--out`` behind (or leaves an existing one as it was), so the corrected command can run.

Also which requested strategies can run here at all: one that needs a package this machine lacks (QLoRA's
bitsandbytes on a GPU machine without it) is refused in one line when asked for by name, and skipped with
one line when it came with a group (``--strategies classic``), so the rest still run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from peftbench import cli
from peftbench.errors import UserError
from peftbench.layout import ComparisonDir, check_directory_target, size_dir, write_atomic
from peftbench.task_types import TaskData
from studies.compare import ComparisonSettings, load_data

MANIFEST_KEYS = ("task", "model")  # what one directory may not mix
COMPARISON, RACE = "comparison", "race"  # what a directory holds (its manifest's "kind"; a missing kind: comparison)


def check_out(out: Path, settings: ComparisonSettings, kind: str = COMPARISON) -> None:
    """Reading only: ``--out`` can hold this comparison (a directory, or nothing yet), and a directory holds
    one comparison (or race), so refuse to mix in another kind, task or model."""
    from peftbench.layout import SweepDir

    check_directory_target(out)
    if SweepDir(out).manifest.is_file():
        raise UserError(f"{out} holds a data-size sweep; run it with --train-sizes, or use another --out")
    theirs = read_manifest(ComparisonDir(out).manifest)
    if theirs is None:
        return
    if theirs.get("kind", COMPARISON) != kind:
        raise UserError(f"{out} holds a {theirs.get('kind', COMPARISON)}, not a {kind}; use another --out")
    for key in MANIFEST_KEYS:
        if theirs.get(key) != getattr(settings, key):
            raise UserError(f"{out} holds a comparison of {key} {theirs.get(key)!r}, not {getattr(settings, key)!r}; "
                            "use another --out")


def read_manifest(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        theirs = json.loads(path.read_text())
    except (OSError, ValueError):
        theirs = None
    if not isinstance(theirs, dict):
        raise UserError(f"{path} is not a peftbench comparison manifest; use another --out")
    return theirs


def write_manifest(out: Path, settings: ComparisonSettings, kind: str = COMPARISON) -> None:
    """What ``out`` holds (kind, task, model, preset), written once, before anything else goes there."""
    path = ComparisonDir(out).manifest
    if not path.exists():
        mine = {"kind": kind, "task": settings.task, "model": settings.model, "preset": settings.preset.name}
        write_atomic(path, json.dumps(mine, indent=2) + "\n")


def check_sweep_out(out: Path, plans: list[tuple[int | None, ComparisonSettings]]) -> dict | None:
    """Reading only: ``--out`` holds nothing, or this sweep (same task and model), and every size's directory
    can hold its comparison. Returns the sweep's manifest, if it has one."""
    from peftbench.sweep_manifest import read_manifest as read_sweep_manifest

    check_directory_target(out)
    if ComparisonDir(out).manifest.exists():
        raise UserError(f"{out} holds a single comparison, not a data-size sweep; use another --out")
    existing = read_sweep_manifest(out)
    settings = plans[0][1]
    for key in MANIFEST_KEYS:
        if existing and existing.get(key) != getattr(settings, key):
            raise UserError(f"{out} holds a sweep of {key} {existing.get(key)!r}, not {getattr(settings, key)!r}; "
                            "use another --out")
    for size, settings in plans:
        check_out(out / size_dir(size), settings)
    return existing


def check_model(model: str) -> None:
    """Refuse a model that cannot be loaded: its tokenizer is the cheap part to load (the same load, and the
    same one-line error, as every run's)."""
    from peftbench.models import load_tokenizer

    load_tokenizer(model)


def drop_unrunnable(settings: ComparisonSettings, named: frozenset[str]) -> None:
    """Move every strategy that cannot run here (a package it requires does not import) from
    ``settings.strategies`` to ``settings.skipped``, with the reason. One the user ``named`` is refused
    instead, as is a comparison left with no strategy."""
    skipped = {strategy.name: reason for strategy in settings.strategies if (reason := strategy.unavailable())}
    asked = sorted(set(skipped) & named)
    if asked:
        raise UserError(f"strategy {asked[0]} {skipped[asked[0]]}; or leave it out of --strategies")
    if skipped and len(skipped) == len(settings.strategies):
        raise UserError(f"no requested strategy can run here: {'; '.join(f'{n} {r}' for n, r in skipped.items())}")
    settings.strategies = [strategy for strategy in settings.strategies if strategy.name not in skipped]
    settings.skipped = {**settings.skipped, **skipped}


def check_strategies_fit(settings: ComparisonSettings, num_labels: int) -> None:
    """Refuse a strategy that cannot work on the model (BitFit on a model without biases, LLRD on shared
    layers, prefix tuning on an encoder without a key/value cache): each strategy's model is built once with
    its defaults, as its first trial will build it."""
    from peftbench.build import build_model
    from peftbench.costs import release_freed_memory

    for strategy in settings.strategies:
        cli.FAILURE.subject = f"strategy {strategy.name}"  # a library failing here is named with its strategy
        try:
            build_model(settings.run, strategy(), num_labels, total_steps=100)
        except UserError as error:
            raise UserError(f"{error}; leave {strategy.name} out of --strategies") from None
    cli.FAILURE.subject = None
    release_freed_memory()


def load_sweep_data(plans: list[tuple[int | None, ComparisonSettings]]) -> list[TaskData]:
    """Every size's data (the task read once per size, as a comparison reads it); a size larger than the
    training set is refused rather than silently trained on all of it, twice."""
    loaded = []
    for size, settings in plans:
        data = load_data(settings)
        settings.check_metric(data.spec.metric)
        whole = f"the {data.full_train_size:,} training examples {settings.task} has (after any split carved from it)"
        if size is not None and size > data.full_train_size:
            raise UserError(f"--train-sizes: {size:,} is more than {whole}; use all instead")
        if size == data.full_train_size and plans[-1][0] is None:
            raise UserError(f"--train-sizes: {size:,} is all of {whole}, the same as all; leave one of them out")
        loaded.append(data)
    return loaded
