"""OFT (Qiu et al., 2023, "Controlling Text-to-Image Diffusion by Orthogonal Finetuning", NeurIPS; via peft):
a frozen weight is multiplied by a learned orthogonal matrix, ``W' = W R``, which keeps the angles between
its neurons (the hyperspherical energy) unchanged. ``R`` is block-diagonal, each ``block_size`` × ``block_size``
block the Cayley transform of a skew-symmetric matrix (a truncated Neumann series, as peft does by default),
so it starts at the identity. ``block_size`` must divide the input width of every adapted layer: the choices
(powers of two up to 64) divide the widths of the models peftbench tests (all multiples of 64), so a search
never draws a size the model cannot take; a model that still cannot gets one clear line.
"""

from __future__ import annotations

from torch import nn

from peftbench.architecture import linear_shape
from peftbench.errors import UserError
from peftbench.strategy import Hyperparameter
from strategies.loha import TARGETS_PARAMETER, PeftTuner


def input_widths(encoder: nn.Module, paths: list[str]) -> list[int]:
    """The distinct input widths of the layers at ``paths``, smallest first."""
    return sorted({linear_shape(encoder.get_submodule(path))[0] for path in paths})


def check_blocks(method: str, widths: list[int], block: int, what: str) -> None:
    """One clear line when a block of ``block`` rows does not tile every adapted layer's input."""
    bad = [w for w in widths if w % block]
    if bad:
        raise UserError(f"{method}: {what} ({block}) must divide the input width of every adapted layer "
                        f"({', '.join(map(str, widths))}); {bad[0]} is not a multiple of {block}")


class Oft(PeftTuner):
    name = "oft"
    paper = r"""@inproceedings{qiu2023controlling,
  author = {Qiu, Zeju and Liu, Weiyang and Feng, Haiwen and Xue, Yuxuan and Feng, Yao and Liu, Zhen and Zhang, Dan and
    Weller, Adrian and Sch{\"o}lkopf, Bernhard},
  title = {Controlling Text-to-Image Diffusion by Orthogonal Finetuning},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2023}
}"""
    summary = "block-diagonal orthogonal rotations of attention (or all) linear layers' inputs, via peft"
    learning_rate = Hyperparameter("lr", 3e-3, 1e-4, 3e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("block_size", 32, choices=(4, 8, 16, 32, 64), help="size of each orthogonal block"),
        Hyperparameter("module_dropout", 0.0, 0.0, 0.3, help="probability of setting a block to the identity"),
        Hyperparameter("coft", False, choices=(False, True), help="constrained OFT: keep R within eps of the identity"),
        Hyperparameter("cayley_neumann", True, choices=(True, False),
                       help="Cayley transform by a 5-term Neumann series (fast) instead of a matrix inverse"),
        TARGETS_PARAMETER,
    )

    def peft_config(self, encoder):
        from peft import OFTConfig

        targets = self.targets(encoder)
        check_blocks(self.name, input_widths(encoder, targets), self.params["block_size"], "block_size")
        return OFTConfig(oft_block_size=self.params["block_size"], r=0, module_dropout=self.params["module_dropout"],
                         coft=self.params["coft"], use_cayley_neumann=self.params["cayley_neumann"],
                         target_modules=targets)
