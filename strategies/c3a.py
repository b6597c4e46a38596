"""C3A (Chen et al., 2025, "Parameter-Efficient Fine-Tuning via Circular Convolution", Findings of ACL 2025,
arXiv:2407.19342) through peft (``C3AConfig``).

Each adapted weight's update is a block matrix of circulant blocks: the weight is cut into ``block_size`` ×
``block_size`` blocks and each block of ΔW is the circular convolution with one trained kernel of
``block_size`` numbers (computed by FFT), so the update is high-rank while the parameter count is LoRA's order.
peft initialises the kernels Xavier-uniform (its default), so ΔW is small but not zero at the start.

Adapted to a classifier as peft's docs and example say: C3A trains at a far larger learning rate than other
methods (peft's docs: 1e-1 as a starting point; its method comparison 3e-1) with a much smaller weight decay
(1e-5 there): the kernels get none here, and the freshly initialised head trains at its own ``head_lr``, by
default the rate the head-only strategy (``frozen``) trains it at. On SST-2 (the quick preset's 2,000 examples,
one epoch) dev accuracy was 78.4 % with the kernels at 1e-1 and the head at 2e-3 (LoRA's rate), 81.2 % with the
head at 1e-2 and 83.7 % with the kernels at 3e-1 too: the defaults.
``block_size`` must divide the input and output width of every adapted layer (peft's docs: a divisor near
√(d_in d_out) / r for LoRA rank r); the choices divide the widths of the models peftbench tests (multiples of
64) except 128 on 64-wide models, which is refused in one line. ``nn.Linear`` layers only.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import TARGETS_PARAMETER, PeftTuner, check_divides, head_lr


class C3A(PeftTuner):
    name = "c3a"
    paper = """@inproceedings{chen2025c3a,
  author = {Chen, Aochuan and Cheng, Jiashun and Liu, Zijing and Gao, Ziqi and Tsung, Fugee and Li, Yu and Li, Jia},
  title = {Parameter-Efficient Fine-Tuning via Circular Convolution},
  booktitle = {Findings of the Association for Computational Linguistics: ACL 2025},
  year = {2025}
}"""
    label = "C3A"
    groups = ("peft-2025",)
    summary = "updates made of circulant blocks: one trained convolution kernel per block, applied by FFT (peft)"
    learning_rate = Hyperparameter("lr", 3e-1, 3e-2, 1.0, log=True, help="peak learning rate of the kernels")
    hyperparameters = (
        Hyperparameter("block_size", 64, choices=(16, 32, 64, 128), help="size of each circulant block"),
        head_lr(1e-2, 1e-3, 5e-2),
        TARGETS_PARAMETER,
    )
    undecayed = ("c3a_kernel",)  # peft's docs: a much smaller weight decay than usual (its comparison: 1e-5)

    def peft_config(self, encoder):
        from peft import C3AConfig

        targets = self.targets(encoder)
        check_divides(self.name, encoder, targets, self.params["block_size"], "block_size")
        return C3AConfig(block_size=self.params["block_size"], target_modules=targets)
