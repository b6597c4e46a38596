"""FourierFT (Gao et al., 2024, "Parameter-Efficient Fine-Tuning with Discrete Fourier Transform", ICML 2024,
arXiv:2405.03003) through peft (``FourierFTConfig``).

Each adapted weight's update is learned in the frequency domain: ``n_frequency`` spectral coefficients at
entries drawn once at random (the same for every layer, from a fixed seed) are trained, and
ΔW = scaling · Re(IDFT2(sparse spectrum)), a dense, high-rank update from a few thousand numbers per layer.
As in the paper (and peft's default), the coefficients start from a standard Gaussian, so training does not
start exactly at the pretrained function.

Adapted to a classifier as the paper and peft's GLUE example do: the method trains at its own, large learning
rate (peft's RoBERTa-base example: 6e-2) and the freshly initialised head at another (6e-3), hence ``head_lr``.
``scaling`` 100–150 is the paper's GLUE setting; ``n_frequency`` 1000 matches LoRA r = 8 on RoBERTa there.
peft implements it for ``nn.Linear`` only (GPT-2's Conv1D is refused in one line).
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import TARGETS_PARAMETER, PeftTuner, head_lr


class FourierFT(PeftTuner):
    name = "fourierft"
    paper = """@inproceedings{gao2024fourierft,
  author = {Gao, Ziqi and Wang, Qichao and Chen, Aochuan and Liu, Zijing and Wu, Bingzhe and Chen, Liang and Li, Jia},
  title = {Parameter-Efficient Fine-Tuning with Discrete {Fourier} Transform},
  booktitle = {International Conference on Machine Learning (ICML)},
  year = {2024}
}"""
    label = "FourierFT"
    groups = ("lora-family",)
    summary = "a few trained Fourier coefficients per weight give a dense update by inverse DFT (peft)"
    learning_rate = Hyperparameter("lr", 5e-2, 5e-3, 2e-1, log=True, help="peak learning rate of the spectral coefficients")
    hyperparameters = (
        Hyperparameter("n_frequency", 1000, 100, 4000, log=True, help="trained spectral coefficients per adapted weight"),
        Hyperparameter("scaling", 150.0, 10.0, 300.0, log=True, help="scale of the inverse-DFT update"),
        head_lr(5e-3, 5e-4, 5e-2),
        TARGETS_PARAMETER,
    )

    def peft_config(self, encoder):
        from peft import FourierFTConfig

        return FourierFTConfig(n_frequency=self.params["n_frequency"], scaling=self.params["scaling"],
                               random_loc_seed=777, target_modules=self.targets(encoder))
