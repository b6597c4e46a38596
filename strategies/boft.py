"""BOFT (Liu et al., 2024, "Parameter-Efficient Orthogonal Finetuning via Butterfly Factorization", ICLR; via
peft): OFT's orthogonal matrix is the product of ``butterfly_factor`` sparse block-diagonal orthogonal factors
arranged as a butterfly (as in the FFT), so a dense rotation comes from few parameters; factor 1 is OFT. Each
output is also rescaled by a learned vector. ``block_size × 2^(butterfly_factor-1)`` must divide the input
width of every adapted layer; the ranges keep it at most 64, which divides the widths of the models peftbench
tests (all multiples of 64; the packaged MiniLM's 384 = 6 · 64), so a search never draws a misfit.

peft builds the butterfly's block-diagonal matrices with a CUDA kernel (``fbd_cuda``) that it compiles on
first use; where that fails (on every CPU) it silently runs with one butterfly factor, i.e. plain OFT. We
hand peft the same block-diagonal operation written in PyTorch instead, so ``butterfly_factor`` means what it
says on every device, and refuse to run if the layers still come out with another number of factors.
"""

from __future__ import annotations

import warnings

import torch

from peftbench.errors import UserError
from peftbench.strategy import Hyperparameter
from strategies.loha import TARGETS_PARAMETER, PeftTuner
from strategies.oft import check_blocks, input_widths


class TorchBlockDiag:
    """``fbd_cuda``'s interface in PyTorch: blocks (N, D, H, H) → N block-diagonal (D·H, D·H) matrices."""

    @staticmethod
    def forward(blocks: torch.Tensor) -> list[torch.Tensor]:
        n, d, h, _ = blocks.shape
        out = blocks.new_zeros(n, d, h, d, h)
        index = torch.arange(d, device=blocks.device)
        out[:, index, :, index, :] = blocks.transpose(0, 1)  # advanced indices first: (D, N, H, H)
        return [out.reshape(n, d * h, d * h)]

    @staticmethod
    def backward(grad: torch.Tensor, blocks: torch.Tensor) -> list[torch.Tensor]:
        n, d, h, _ = blocks.shape
        index = torch.arange(d, device=grad.device)
        return [grad.reshape(n, d, h, d, h)[:, index, :, index, :].transpose(0, 1).contiguous()]


def provide_block_diagonal() -> None:
    """Give peft's BOFT layers a block-diagonal kernel where its CUDA one cannot be built."""
    from peft.tuners.boft import layer

    with warnings.catch_warnings():  # peft's "Setting boft_n_butterfly_factor to 1": not so, once we step in
        warnings.simplefilter("ignore")
        if layer.get_fbd_cuda() is None and hasattr(layer, "_FBD_CUDA"):
            layer._FBD_CUDA = TorchBlockDiag


class Boft(PeftTuner):
    name = "boft"
    paper = r"""@inproceedings{liu2024butterfly,
  author = {Liu, Weiyang and Qiu, Zeju and Feng, Yao and Xiu, Yuliang and Xue, Yuxuan and Yu, Longhui and
    Feng, Haiwen and Liu, Zhen and Heo, Juyeon and Peng, Songyou and Wen, Yandong and Black, Michael J. and
    Weller, Adrian and Sch{\"o}lkopf, Bernhard},
  title = {Parameter-Efficient Orthogonal Finetuning via Butterfly Factorization},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2024}
}"""
    summary = "butterfly-factorised orthogonal rotations (and output scales) of attention (or all) linear layers, via peft"
    learning_rate = Hyperparameter("lr", 3e-3, 1e-4, 3e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("block_size", 8, choices=(2, 4, 8, 16), help="size of each orthogonal block"),
        Hyperparameter("butterfly_factor", 2, 1, 3, help="number of butterfly factors (1: OFT)"),
        Hyperparameter("dropout", 0.0, 0.0, 0.3, help="multiplicative dropout: probability of a block becoming the identity"),
        TARGETS_PARAMETER,
    )
    undecayed = ("boft_s",)  # the output scales start at 1

    def peft_config(self, encoder):
        from peft import BOFTConfig

        targets = self.targets(encoder)
        tile = self.params["block_size"] * 2 ** (self.params["butterfly_factor"] - 1)
        check_blocks(self.name, input_widths(encoder, targets), tile, "block_size × 2^(butterfly_factor-1)")
        return BOFTConfig(boft_block_size=self.params["block_size"], boft_block_num=0,
                          boft_n_butterfly_factor=self.params["butterfly_factor"], boft_dropout=self.params["dropout"],
                          target_modules=targets)

    def prepare(self, model, total_steps):
        provide_block_diagonal()
        super().prepare(model, total_steps)
        factors = {p.shape[0] for n, p in model.encoder.named_parameters() if ".boft_R." in n}
        if factors != {self.params["butterfly_factor"]}:
            raise UserError(f"boft: peft built {sorted(factors)} butterfly factor(s) instead of "
                            f"{self.params['butterfly_factor']} (its block-diagonal kernel is unavailable here); "
                            f"use --param butterfly_factor=1")
