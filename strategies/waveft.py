"""WaveFT (2025, "Exploring Sparsity for Parameter Efficient Fine Tuning Using Wavelets",
arXiv:2505.12532) through peft (``WaveFTConfig``).

FourierFT's idea in the wavelet domain: ``n_frequency`` coefficients at fixed random positions of each adapted
weight's 2-D wavelet transform are trained (starting at zero, so training starts from the pretrained function)
and ΔW = scaling · IDWT2(sparse coefficients). The Haar wavelet (``db1``, peft's default) keeps each
coefficient's influence local, so the update is sparse-ish and high-rank at any parameter count, which is the
paper's point against LoRA's coarse rank steps.

Adapted to a classifier as FourierFT is: the coefficients train at their own learning rate and the head at
``head_lr``. ``n_frequency`` defaults to FourierFT's 1000 per layer (the paper compares the two at equal parameter
counts); ``scaling`` 25 is the paper's and peft's default. The paper gives no rate for text classification; with
FourierFT's scale, 2e-2, the update grows too fast: on SST-2 (the quick preset's 2,000 examples, one epoch) dev
accuracy was 61.9 % at 2e-2, 83.2 % at 5e-3 and 82.0 % at 2e-3, so the default is 5e-3. ``nn.Linear`` layers only.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import TARGETS_PARAMETER, PeftTuner, head_lr


class WaveFT(PeftTuner):
    name = "waveft"
    paper = r"""@article{bilican2025waveft,
  author = {Bilican, Ahmet and Y{\i}lmaz, M. Ak{\i}n and Tekalp, A. Murat and Cinbi{\c{s}}, R. G{\"o}kberk},
  title = {Exploring Sparsity for Parameter Efficient Fine Tuning Using Wavelets},
  journal = {arXiv preprint arXiv:2505.12532},
  year = {2025}
}"""
    label = "WaveFT"
    groups = ("lora-family", "peft-2025")
    summary = "a few trained wavelet coefficients per weight give a sparse high-rank update by inverse DWT (peft)"
    learning_rate = Hyperparameter("lr", 5e-3, 5e-4, 5e-2, log=True, help="peak learning rate of the wavelet coefficients")
    hyperparameters = (
        Hyperparameter("n_frequency", 1000, 100, 4000, log=True, help="trained wavelet coefficients per adapted weight"),
        Hyperparameter("scaling", 25.0, 5.0, 150.0, log=True, help="scale of the inverse-DWT update"),
        head_lr(5e-3, 5e-4, 5e-2),
        TARGETS_PARAMETER,
    )

    def peft_config(self, encoder):
        from peft import WaveFTConfig

        return WaveFTConfig(n_frequency=self.params["n_frequency"], scaling=self.params["scaling"],
                            wavelet_family="db1", random_loc_seed=777, target_modules=self.targets(encoder))
