"""LoHa (Hyeon-Woo et al., 2022, "FedPara: Low-Rank Hadamard Product for Communication-Efficient Federated
Learning", ICLR; as packaged by LyCORIS and peft): the update of a frozen weight is the Hadamard product of
two low-rank products, ``ΔW = (B1 A1) ⊙ (B2 A2)``, so rank ``r`` matrices give an update of rank up to r².

:class:`PeftTuner`, the base of every method here that peft applies to chosen layers of the encoder
(LoHa, LoKr, OFT, BOFT, HRA, (IA)³, LN tuning and the newer peft methods, FourierFT to BEFT), lives in this file. As for LoRA, peft wraps only the
encoder; the head is our own module outside the peft model, so it trains and is saved without
``modules_to_save`` (peft#2171). Layers are found from the model's structure (``peftbench.architecture``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import nn

from peftbench.architecture import linear_shape
from peftbench.errors import UserError
from peftbench.strategy import Hyperparameter, Strategy, decay_groups, trainable_named_parameters
from strategies.lora import TARGETS, refuse_conv1d, stores_transposed, target_modules

TARGETS_PARAMETER = Hyperparameter("targets", "attention", choices=TARGETS,
                                   help="the attention projections peft picks per family, or every linear layer")
ALPHA_RATIO = Hyperparameter("alpha_ratio", 1.0, 0.25, 4.0, help="alpha = alpha_ratio * rank (scale alpha/rank)")
RANK_DROPOUT = Hyperparameter("rank_dropout", 0.0, 0.0, 0.3, help="dropout over the rank dimension")
MODULE_DROPOUT = Hyperparameter("module_dropout", 0.0, 0.0, 0.3, help="probability of skipping a whole adapted layer")
DROPOUT = Hyperparameter("dropout", 0.0, 0.0, 0.3, help="dropout on the adapter input")


class PeftTuner(Strategy):
    """A peft tuner over layers of the encoder: a subclass builds its peft config in :meth:`peft_config`."""

    family = "reparameterised"
    # Parts of parameter names trained without weight decay: scales that start at 1 (IA3's vectors, BOFT's
    # scale) or norm weights whose peft copies no longer end in ``norm.weight``; decay would pull them to 0.
    undecayed: ClassVar[tuple[str, ...]] = ()
    # Parts of parameter names trained at their own rate: name part → the hyperparameter giving it as a ratio of lr
    # (a method whose paper or peft example trains its tensors at several rates, e.g. VB-LoRA's bank and logits).
    rate_ratios: ClassVar[dict[str, str]] = {}
    # Whether peft's layers for the method also wrap GPT-2's Conv1D (weights stored transposed: ``fan_in_fan_out``).
    takes_conv1d: ClassVar[bool] = False

    def peft_config(self, encoder: nn.Module):
        raise NotImplementedError

    def targets(self, encoder: nn.Module) -> list[str]:
        """The module paths ``targets`` names (the attention projections, or every linear layer). Where peft
        implements the tuner for ``nn.Linear`` only, GPT-2's ``Conv1D`` layers are refused in one line, not a traceback."""
        paths = target_modules(encoder, self.params["targets"], self.name)
        if not self.takes_conv1d:
            refuse_conv1d(encoder, paths, self.name)
        return paths

    def placement(self, encoder: nn.Module) -> dict[str, Any]:
        """A peft config's ``target_modules`` (:meth:`targets`) and, for a method that takes Conv1D, whether the
        targets store their weights transposed (``fan_in_fan_out``)."""
        targets = self.targets(encoder)
        return {"target_modules": targets, **({"fan_in_fan_out": stores_transposed(encoder, targets)}
                                              if self.takes_conv1d else {})}

    def prepare(self, model, total_steps):
        from peft import get_peft_model

        model.encoder = get_peft_model(model.encoder, self.peft_config(model.encoder))

    def param_groups(self, model: nn.Module, lr: float, weight_decay: float) -> list[dict]:
        """The core's groups, with ``undecayed`` parameters out of weight decay, ``rate_ratios`` parameters at their
        own rates and, where the strategy has a ``head_lr`` hyperparameter, the head at that rate (methods whose
        own rate is far from what a head takes)."""
        named = trainable_named_parameters(model)
        head_lr = self.params.get("head_lr")
        head = [(n, p) for n, p in named if head_lr is not None and n.startswith("classifier.")]
        method = [(n, p) for n, p in named if not (head_lr is not None and n.startswith("classifier."))]
        exempt = [p for n, p in method if any(part in n for part in self.undecayed)]
        rest = [(n, p) for n, p in method if not any(part in n for part in self.undecayed)]
        groups = decay_groups([(n, p) for n, p in rest if not any(part in n for part in self.rate_ratios)], lr, weight_decay)
        for part, ratio in self.rate_ratios.items():
            groups += decay_groups([(n, p) for n, p in rest if part in n], lr * self.params[ratio], weight_decay)
        return (groups + decay_groups(head, head_lr or lr, weight_decay)
                + ([{"params": exempt, "lr": lr, "weight_decay": 0.0}] if exempt else []))


def check_divides(method: str, encoder: nn.Module, targets: list[str], divisor: int, what: str,
                  outputs_only: bool = False) -> None:
    """One clear line unless ``divisor`` divides the input and output (or only the output) width of every layer at
    ``targets``: a divisibility peft would otherwise report as a traceback, or work around silently."""
    sides = "output" if outputs_only else "input and output"
    for path in targets:
        widths = linear_shape(encoder.get_submodule(path))
        if any(width % divisor for width in (widths[1:] if outputs_only else widths)):
            raise UserError(f"{method}: {what} ({divisor}) must divide the {sides} width of every adapted layer; "
                            f"{path} of {type(encoder).__name__} is {widths[0]} → {widths[1]}")


def check_rank_fits(method: str, encoder: nn.Module, targets: list[str], rank: int) -> None:
    """One clear line when ``rank`` exceeds the narrower side of an adapted layer: a subspace of that rank does not
    exist there (peft stops with its own ValueError deep in the layer's construction)."""
    for path in targets:
        widths = linear_shape(encoder.get_submodule(path))
        if rank > min(widths):
            raise UserError(f"{method}: rank ({rank}) must not exceed the input or output width of any adapted layer; "
                            f"{path} of {type(encoder).__name__} is {widths[0]} → {widths[1]}")


def head_lr(default: float, low: float, high: float) -> Hyperparameter:
    """The head's own learning rate, for a method trained at a rate far from what a freshly initialised linear head
    takes (its paper or peft's example trains the two apart)."""
    return Hyperparameter("head_lr", default, low, high, log=True,
                          help="learning rate of the classification head (lr is the method's own)")


class LoHa(PeftTuner):
    name = "loha"
    paper = """@inproceedings{hyeonwoo2022fedpara,
  author = {Hyeon-Woo, Nam and Ye-Bin, Moon and Oh, Tae-Hyun},
  title = {{FedPara}: Low-Rank Hadamard Product for Communication-Efficient Federated Learning},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2022}
}"""
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
