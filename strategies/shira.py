"""SHiRA (Bhardwaj et al., 2024, "Sparse High Rank Adapters", NeurIPS 2024, arXiv:2406.13175) through peft
(``ShiraConfig``).

Sparse fine-tuning rather than a low-rank update: in each adapted weight a random mask (drawn once from a fixed
seed, so rebuilding draws the same) selects rank × (in + out) entries (as many as a rank-r LoRA trains) and those
entries alone train, held as a sparse delta that starts at zero. The update is sparse and high-rank; the paper
argues it fuses and switches better than LoRA on device.

Learning rate: peft's example and method comparison train it at 3× their LoRA rate; the default here is 2.5×
peftbench's. ``nn.Linear`` layers only.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import TARGETS_PARAMETER, PeftTuner


class Shira(PeftTuner):
    name = "shira"
    paper = """@inproceedings{bhardwaj2024shira,
  author = {Bhardwaj, Kartikeya and Pandey, Nilesh Prasad and Priyadarshi, Sweta and Ganapathy, Viswanath and
    Kadambi, Shreya and Esteves, Rafael and Borse, Shubhankar and Whatmough, Paul and Garrepalli, Risheek and
    Van Baalen, Mart and Teague, Harris and Nagel, Markus},
  title = {Sparse High Rank Adapters},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2024}
}"""
    label = "SHiRA"
    family = "selective"
    groups = ("lora-family",)
    summary = "a random sparse set of pretrained weight entries (LoRA's count) trains, high-rank (peft)"
    learning_rate = Hyperparameter("lr", 5e-3, 5e-4, 3e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("rank", 8, 1, 64, log=True, help="rank × (in + out) entries of each weight train"),
        TARGETS_PARAMETER,
    )

    def peft_config(self, encoder):
        from peft import ShiraConfig

        return ShiraConfig(r=self.params["rank"], mask_type="random", random_seed=0, target_modules=self.targets(encoder))
