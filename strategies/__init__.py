"""The strategy registry: a new strategy is one file in this folder plus one line below."""

from __future__ import annotations

from typing import Any

from peftbench.errors import UserError
from peftbench.strategy import FAMILIES, Strategy
from strategies.adalora import Adalora
from strategies.adapters import Adapters
from strategies.beft import Beft
from strategies.bitfit import BitFit
from strategies.boft import Boft
from strategies.c3a import C3A
from strategies.deft import Deft
from strategies.delora import Delora
from strategies.dora import Dora
from strategies.fourierft import FourierFT
from strategies.frod import Frod
from strategies.frozen import Frozen
from strategies.full import Full
from strategies.glora import Glora
from strategies.gralora import Gralora
from strategies.hira import Hira
from strategies.hra import Hra
from strategies.ia3 import Ia3
from strategies.kasa import Kasa
from strategies.lily import Lily
from strategies.loftq import LoftQ
from strategies.llrd import Llrd
from strategies.ln_tuning import LnTuning
from strategies.loha import LoHa
from strategies.lokr import LoKr
from strategies.lora import Lora
from strategies.lora_orthogonal import LoraOrthogonal
from strategies.lorafa import LoraFA
from strategies.loraplus import LoraPlus
from strategies.mica import Mica
from strategies.miss import Miss
from strategies.oft import Oft
from strategies.olora import Olora
from strategies.osf import Osf
from strategies.p_tuning import PTuning
from strategies.peanut import Peanut
from strategies.pissa import Pissa
from strategies.prefix_tuning import PrefixTuning
from strategies.prompt_tuning import PromptTuning
from strategies.psoft import Psoft
from strategies.pvera import Pvera
from strategies.qdora import QDora
from strategies.qlora import QLora
from strategies.randlora import RandLora
from strategies.road import Road
from strategies.rslora import RsLora
from strategies.shira import Shira
from strategies.supertuning import Supertuning
from strategies.tinylora import TinyLora
from strategies.unilora import UniLora
from strategies.vblora import VBLoRA
from strategies.vera import Vera
from strategies.waveft import WaveFT

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
    # LoRA's own variants: initialisations, optimiser, reparameterisations within peft's LoraConfig
    LoraOrthogonal,
    Mica,
    LoftQ,
    Kasa,
    LoraFA,
    # low-rank and shared-basis updates
    Delora,
    Gralora,
    Hira,
    Glora,
    Lily,
    Miss,
    Peanut,
    Deft,
    Pvera,
    RandLora,
    VBLoRA,
    UniLora,
    TinyLora,
    # transform-domain, structured and subspace updates
    FourierFT,
    WaveFT,
    C3A,
    Frod,
    Psoft,
    Osf,
    Road,
    # sparse and bias selections
    Shira,
    Supertuning,
    Beft,
)}


def _place_in_families() -> None:
    """Each strategy's place among its family's registered strategies, in registry order: it fixes the strategy's
    colour and marker in every report (reports.style)."""
    for family in {cls.family for cls in STRATEGIES.values()}:
        members = [cls for cls in STRATEGIES.values() if cls.family == family]
        for index, cls in enumerate(members):
            cls.family_index, cls.family_size = index, len(members)


_place_in_families()


DEFAULT_GROUP = "classic"  # what runners.compare compares unless told otherwise


def groups() -> dict[str, list[str]]:
    """Group name → member strategies: the groups each strategy declares, then one per family (``reparameterised``,
    ``selective``, ...; not ``full``, which names the strategy ``full``), then ``all``."""
    found: dict[str, list[str]] = {}
    for name, cls in STRATEGIES.items():
        for group in cls.groups:
            found.setdefault(group, []).append(name)
    families = {family: [name for name, cls in STRATEGIES.items() if cls.family == family] for family in FAMILIES}
    return {**found, **{family: names for family, names in families.items() if names and family not in STRATEGIES}, "all": list(STRATEGIES)}


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
    from peftbench.artifacts import read_saved_run, rebuild

    saved = read_saved_run(output_dir)
    model, tokenizer = rebuild(saved, get_strategy(saved.strategy, saved.strategy_params), device)
    return model, tokenizer, saved.config


__all__ = ["DEFAULT_GROUP", "STRATEGIES", "Strategy", "get_strategy", "groups", "load_trained", "select_strategies"]
