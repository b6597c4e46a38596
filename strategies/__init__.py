"""The strategy registry: a new strategy is one file in this folder plus one line below."""

from __future__ import annotations

from core.errors import UserError
from strategies.adapters import Adapters
from strategies.base import Hyperparameter, Strategy
from strategies.bitfit import BitFit
from strategies.frozen import Frozen
from strategies.full import Full
from strategies.llrd import Llrd
from strategies.lora import Lora
from strategies.qlora import QLora

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (Full, Frozen, Lora, Adapters, Llrd, QLora, BitFit)
}


def get_strategy(name: str) -> Strategy:
    if name not in STRATEGIES:
        raise UserError(f"unknown strategy {name!r}: choose from {', '.join(STRATEGIES)}")
    return STRATEGIES[name]()


__all__ = ["STRATEGIES", "Hyperparameter", "Strategy", "get_strategy"]
