"""PVeRA (2025, "PVeRA: Probabilistic Vector-Based Random Matrix Adaptation", arXiv:2512.07703) through peft
(``PveraConfig``).

VeRA with a distribution over its low-rank code: the shared frozen random projection A maps the input to twice
the rank, split into a mean and a log-variance; in training the code is sampled (reparameterisation trick),
at evaluation its mean is used (peft's ``sample_at_inference=False``, so predictions are deterministic and a
reloaded run predicts identically), then scaled by the trained vectors d and b and projected back by the shared
frozen B. As in VeRA, b starts at zero (the pretrained function) and only d and b train.

The learning rate is VeRA's scale: peft's method comparison trains it at 3e-3 on a 3B decoder, 30× its LoRA rate,
where peftbench's VeRA default is 5× LoRA's; rank 256 and d_initial 0.1 are peft's (and VeRA's) defaults.
Linear and GPT-2 Conv1D layers.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import DROPOUT, TARGETS_PARAMETER, PeftTuner


class Pvera(PeftTuner):
    name = "pvera"
    paper = r"""@inproceedings{fillioux2026pvera,
  author = {Fillioux, Leo and Ferrante, Enzo and Courn{\`e}de, Paul-Henry and Vakalopoulou, Maria and
    Christodoulidis, Stergios},
  title = {{PVeRA}: Probabilistic Vector-Based Random Matrix Adaptation},
  booktitle = {IEEE/CVF Winter Conference on Applications of Computer Vision (WACV)},
  year = {2026}
}"""
    label = "PVeRA"
    groups = ("lora-family", "peft-2025")
    summary = "VeRA with a sampled (probabilistic) low-rank code; its mean at evaluation (peft)"
    takes_conv1d = True
    learning_rate = Hyperparameter("lr", 1e-2, 1e-3, 5e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("rank", 256, 16, 1024, log=True, help="rank r of the shared random matrices"),
        Hyperparameter("d_initial", 0.1, 0.01, 1.0, log=True, help="initial value of the d vectors (≤ 0.1 advised)"),
        DROPOUT,
        TARGETS_PARAMETER,
    )

    def peft_config(self, encoder):
        from peft import PveraConfig

        return PveraConfig(r=self.params["rank"], d_initial=self.params["d_initial"], pvera_dropout=self.params["dropout"],
                           projection_prng_key=0, sample_at_inference=False, **self.placement(encoder))
