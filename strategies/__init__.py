"""The strategy registry: a new strategy is one file in this folder plus one line below."""

from __future__ import annotations

from typing import Any

from core.errors import UserError
from core.strategy import Strategy
from strategies.adalora import Adalora
from strategies.adapters import Adapters
from strategies.bitfit import BitFit
from strategies.boft import Boft
from strategies.dora import Dora
from strategies.frozen import Frozen
from strategies.full import Full
from strategies.hra import Hra
from strategies.ia3 import Ia3
from strategies.llrd import Llrd
from strategies.ln_tuning import LnTuning
from strategies.loha import LoHa
from strategies.lokr import LoKr
from strategies.lora import Lora
from strategies.loraplus import LoraPlus
from strategies.oft import Oft
from strategies.olora import Olora
from strategies.p_tuning import PTuning
from strategies.pissa import Pissa
from strategies.prefix_tuning import PrefixTuning
from strategies.prompt_tuning import PromptTuning
from strategies.qdora import QDora
from strategies.qlora import QLora
from strategies.rslora import RsLora
from strategies.vera import Vera

STRATEGIES: dict[str, type[Strategy]] = {cls.name: cls for cls in (  # one line per strategy, in listing order
    Full,
    Frozen,
    Lora,
    Adapters,
    Llrd,
    QLora,
    BitFit,
    LoHa,
    LoKr,
    Oft,
    Boft,
    Hra,
    Ia3,
    LnTuning,
    PromptTuning,
    PrefixTuning,
    PTuning,
    Dora,
    RsLora,
    Pissa,
    Olora,
    LoraPlus,
    Adalora,
    Vera,
    QDora,
)}


DEFAULT_GROUP = "classic"  # what runners.compare compares unless told otherwise


def groups() -> dict[str, list[str]]:
    """Group name → member strategies, from what each strategy declares, plus ``all``."""
    found: dict[str, list[str]] = {}
    for name, cls in STRATEGIES.items():
        for group in cls.groups:
            found.setdefault(group, []).append(name)
    return {**found, "all": list(STRATEGIES)}


def select_strategies(spec: str) -> list[type[Strategy]]:
    """``--strategies``: comma-separated strategy names and group names, in order, each strategy once."""
    known = groups()
    chosen: list[str] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        if item not in STRATEGIES and item not in known:
            raise UserError(f"unknown strategy or group {item!r} in --strategies: choose from "
                            f"{', '.join(STRATEGIES)} or the groups {', '.join(known)}")
        chosen += [name for name in known.get(item, [item]) if name not in chosen]
    if not chosen:
        raise UserError("--strategies names no strategy")
    return [STRATEGIES[name] for name in chosen]


def get_strategy(name: str, params: dict[str, Any] | None = None) -> Strategy:
    """The strategy ``name`` with its hyperparameters resolved (defaults, then ``params``, validated)."""
    if name not in STRATEGIES:
        raise UserError(f"unknown strategy {name!r}: choose from {', '.join(STRATEGIES)}")
    missing = STRATEGIES[name].unavailable()
    if missing:
        raise UserError(f"strategy {name} {missing}")
    return STRATEGIES[name](params)


def load_trained(output_dir: str, device: str = "cpu"):
    """Rebuild a trained model from a run's output directory: (model, tokenizer, TrainConfig)."""
    from core.artifacts import read_saved_run, rebuild

    saved = read_saved_run(output_dir)
    model, tokenizer = rebuild(saved, get_strategy(saved.strategy, saved.strategy_params), device)
    return model, tokenizer, saved.config


__all__ = ["DEFAULT_GROUP", "STRATEGIES", "Strategy", "get_strategy", "groups", "load_trained", "select_strategies"]
