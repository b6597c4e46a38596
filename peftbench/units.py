"""Quantities with units, both ways: parse what a person types on the command line (``8GB``, ``10min``,
``1.5M``) and format what the reports print (``1.45 GiB``, ``96 s``, ``148k``)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from peftbench.errors import UserError

# Matched case-insensitively (so "m" is minutes for a time and million for a count).
BYTE_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
              "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
SECOND_UNITS = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "mins": 60,
                "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600}
COUNT_UNITS = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9}
MILLISECOND_UNITS = {"us": 1e-3, "ms": 1, "s": 1000, "sec": 1000}
_QUANTITY = re.compile(r"\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Kind:
    what: str
    units: dict[str, float]
    shown: str  # the units an error message offers
    examples: str


BYTES = Kind("a size", BYTE_UNITS, "B, KB, MB, GB, TB (powers of 10) or KiB, MiB, GiB, TiB (powers of 2)",
             "8GB, 512MiB, 50MB")
SECONDS = Kind("a duration", SECOND_UNITS, "s, min, h", "90s, 10min, 2h")
COUNT = Kind("a count", COUNT_UNITS, "k, M, B", "1.5M, 200k, 1e6")
LATENCY = Kind("a latency", MILLISECOND_UNITS, "ms, s, us", "5ms, 0.5s, 800us")


def _parse(text: str, kind: Kind) -> float:
    match = _QUANTITY.fullmatch(text)
    if not match:
        raise UserError(f"cannot read {text!r} as {kind.what}; write e.g. {kind.examples}")
    number, unit = float(match.group(1)), match.group(2)
    if not unit and "" not in kind.units:
        raise UserError(f"{text!r} needs a unit for {kind.what}: use {kind.shown} (e.g. {kind.examples})")
    if unit.lower() not in kind.units:
        raise UserError(f"unknown unit {unit!r} in {text!r} for {kind.what}; use {kind.shown} (e.g. {kind.examples})")
    value = number * kind.units[unit.lower()]
    if not (math.isfinite(value) and value > 0):
        raise UserError(f"{kind.what} must be positive, got {text!r}")
    return value


def parse_bytes(text: str) -> int:
    """``8GB`` (10^9), ``8GiB`` (2^30), ``512MiB``, ``1e9B``; case-insensitive. A bare number is refused:
    ``--max-memory 8`` is far likelier a forgotten GB than eight bytes."""
    return int(_parse(text, BYTES))


def parse_seconds(text: str) -> float:
    """``90s``, ``10min``, ``2h``, ``1.5h``; the unit is required, as for sizes."""
    return _parse(text, SECONDS)


def parse_milliseconds(text: str) -> float:
    """``5ms``, ``0.5s``, ``800us``, in milliseconds; the unit is required."""
    return _parse(text, LATENCY)


def parse_count(text: str) -> int:
    """``1.5M``, ``200k``, ``1e6``, ``3B``; case-insensitive."""
    return int(round(_parse(text, COUNT)))


def significant(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits in plain notation, thousands separated, no trailing zeros."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_bytes(value: float) -> str:
    """Binary units, as memory is measured: ``1.45 GiB``, ``596 KiB``."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(value) >= size:
            return f"{significant(value / size)} {unit}"
    return f"{int(value)} B"


def format_count(value: float) -> str:
    """``22.6M``, ``148k``, ``770``."""
    for unit, size in (("B", 10**9), ("M", 10**6), ("k", 10**3)):
        if abs(value) >= size:
            return f"{value / size:.3g}{unit}"
    return f"{int(value)}"


def format_seconds(value: float) -> str:
    """``12.5 s``, ``14.2 min``, ``2.1 h``."""
    if value >= 7200:
        return f"{significant(value / 3600)} h"
    if value >= 120:
        return f"{significant(value / 60)} min"
    return f"{significant(value)} s"


def format_milliseconds(value: float) -> str:
    """``4.21 ms``, ``12.5 ms``."""
    return f"{significant(value)} ms"


def format_percent(value: float) -> str:
    return "100%" if value == 100 else f"{significant(value, 2)}%"
