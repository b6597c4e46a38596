"""Super-Tuning (2026, arXiv:2607.09287) through peft (``SupertuningConfig``).

Sparse fine-tuning by magnitude: in each adapted weight the (1 − ``sparsity``) fraction of entries with the
largest magnitude is selected once from the pretrained weight (data-free: no calibration pass) and only those
entries train, as a sparse delta that starts at zero. ``supra_rank`` > 0 adds a LoRA of that rank on top (the
paper's "Supra" hybrid); 0 is its best-reported single mechanism, the default here. ``select_top`` false keeps
the smallest entries instead (the paper's "-bottom" variants; which end is better depends on model and task).

Learning rate: the trained entries are pretrained weights, as in SHiRA, so SHiRA's scale (2.5× peftbench's LoRA
rate). ``nn.Linear`` layers only.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import TARGETS_PARAMETER, PeftTuner


class Supertuning(PeftTuner):
    name = "supertuning"
    paper = """@misc{supertuning2026pruning,
  title = {{Super-Tuning}: From Activation-Aware Pruning to Sparse Fine-Tuning},
  howpublished = {arXiv preprint arXiv:2607.09287},
  year = {2026},
  key = {Super-Tuning}
}"""
    label = "Super-Tuning"
    family = "selective"
    groups = ("peft-2025",)
    summary = "the largest-magnitude 1% of each adapted weight's entries train (sparse, data-free selection) (peft)"
    learning_rate = Hyperparameter("lr", 5e-3, 5e-4, 3e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("sparsity", 0.99, 0.9, 0.999, help="fraction of each weight's entries left frozen"),
        Hyperparameter("select_top", True, choices=(True, False), help="train the largest entries (False: the smallest)"),
        Hyperparameter("supra_rank", 0, 0, 32, help="rank of a LoRA added on top (0: none, the sparse support alone)"),
        TARGETS_PARAMETER,
    )

    def peft_config(self, encoder):
        from peft import SupertuningConfig

        rank = self.params["supra_rank"] or None
        return SupertuningConfig(sparsity=self.params["sparsity"], select_top=self.params["select_top"], r=rank,
                                 lora_alpha=None if rank is None else 2.0 * rank, target_modules=self.targets(encoder))
