"""LoHa (Hyeon-Woo et al., 2022, "FedPara: Low-Rank Hadamard Product for Communication-Efficient Federated
Learning", ICLR; as packaged by LyCORIS and peft): the update of a frozen weight is the Hadamard product of
two low-rank products, ``ΔW = (B1 A1) ⊙ (B2 A2)``, so rank ``r`` matrices give an update of rank up to r².

:class:`PeftTuner`, the base of every method here that peft applies to chosen layers of the encoder
(LoHa, LoKr, OFT, BOFT, HRA, (IA)³, LN tuning), lives in this file. As for LoRA, peft wraps only the
encoder; the head is our own module outside the peft model, so it trains and is saved without
``modules_to_save`` (peft#2171). Layers are found from the model's structure (``core.architecture``).
"""

from __future__ import annotations

from typing import ClassVar

from torch import nn

from core.errors import UserError
from core.strategy import Hyperparameter, Strategy, decay_groups, trainable_named_parameters
from strategies.lora import TARGETS, target_modules

TARGETS_PARAMETER = Hyperparameter("targets", "attention", choices=TARGETS,
                                   help="attention: query/value projections (peft's per-family choice); all_linear: every linear layer")
ALPHA_RATIO = Hyperparameter("alpha_ratio", 1.0, 0.25, 4.0, help="alpha = alpha_ratio * rank (scale alpha/rank)")
RANK_DROPOUT = Hyperparameter("rank_dropout", 0.0, 0.0, 0.3, help="dropout over the rank dimension")
MODULE_DROPOUT = Hyperparameter("module_dropout", 0.0, 0.0, 0.3, help="probability of skipping a whole adapted layer")


class PeftTuner(Strategy):
    """A peft tuner over layers of the encoder: a subclass builds its peft config in :meth:`peft_config`."""

    family = "reparameterised"
    # Parts of parameter names trained without weight decay: scales that start at 1 (IA3's vectors, BOFT's
    # scale) or norm weights whose peft copies no longer end in ``norm.weight``; decay would pull them to 0.
    undecayed: ClassVar[tuple[str, ...]] = ()

    def peft_config(self, encoder: nn.Module):
        raise NotImplementedError

    def targets(self, encoder: nn.Module) -> list[str]:
        """The module paths ``targets`` names (the attention projections, or every linear layer). peft implements
        these tuners for ``nn.Linear`` only: GPT-2's ``Conv1D`` layers are refused in one line, not a traceback."""
        paths = target_modules(encoder, self.params["targets"], self.name)
        conv1d = [path for path in paths if not isinstance(encoder.get_submodule(path), nn.Linear)]
        if conv1d:
            raise UserError(f"{self.name}: peft implements it for nn.Linear layers only, and {conv1d[0]} of "
                            f"{type(encoder).__name__} is a {type(encoder.get_submodule(conv1d[0])).__name__}")
        return paths

    def prepare(self, model, total_steps):
        from peft import get_peft_model

        model.encoder = get_peft_model(model.encoder, self.peft_config(model.encoder))

    def param_groups(self, model: nn.Module, lr: float, weight_decay: float) -> list[dict]:
        named = trainable_named_parameters(model)
        exempt = [p for n, p in named if any(part in n for part in self.undecayed)]
        rest = [(n, p) for n, p in named if not any(part in n for part in self.undecayed)]
        return decay_groups(rest, lr, weight_decay) + ([{"params": exempt, "lr": lr, "weight_decay": 0.0}] if exempt else [])


class LoHa(PeftTuner):
    name = "loha"
    summary = "low-rank Hadamard-product updates (LyCORIS LoHa) on attention (or all) linear layers, via peft"
    learning_rate = Hyperparameter("lr", 1e-2, 1e-3, 5e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("rank", 8, 1, 64, log=True, help="rank r of each of the two factors"),
        ALPHA_RATIO,
        RANK_DROPOUT,
        MODULE_DROPOUT,
        TARGETS_PARAMETER,
    )

    def peft_config(self, encoder):
        from peft import LoHaConfig

        return LoHaConfig(r=self.params["rank"], alpha=self.params["alpha_ratio"] * self.params["rank"],
                          rank_dropout=self.params["rank_dropout"], module_dropout=self.params["module_dropout"],
                          target_modules=self.targets(encoder))
