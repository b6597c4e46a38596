"""OSF (2025, "Sculpting Subspaces: Constrained Full Fine-Tuning in LLMs for Continual Learning",
arXiv:2504.07097) through peft (``OSFConfig``).

Each adapted weight is split by SVD into its top singular directions, frozen, and the rest, which trains: the
factors U_low, S_low, V_low of the low part are the trained parameters, and hooks project their gradients to stay
orthogonal to the frozen high subspace. It is full fine-tuning of a chosen subspace rather than an added update;
the paper keeps each task's important directions for the next one (continual learning). Here it adapts to one
task, keeping ``preserved`` of each weight's rank frozen. The trained factors start as the pretrained weight's own
low part (the function is unchanged up to float rounding), so they get no weight decay. The base weights are not
changed: the layer adds the difference between the trained and the initial low part.

Learning rate: peft's method comparison trains it at half its LoRA rate (it moves pretrained directions, as full
fine-tuning does); the default here is half peftbench's LoRA rate. At such rates a freshly initialised head barely
moves in a short run, so it trains at its own ``head_lr``, by default the rate the head-only strategy (``frozen``)
trains it at. On SST-2 (the quick preset's 2,000 examples, one epoch), with the head at the method's rate, dev
accuracy was 56.1 % at 1e-4, 61.4 % at 3e-4 and 67.4 % at 1e-3; with the head at 5e-3, 79.7 % and 80.0 % at 3e-4
and 1e-3; at 1e-2, 80.5 % (the defaults). Preserving 90 % of the rank trains about as many parameters as a
rank-38 LoRA on the MiniLM (peft's default, 50 %, trains a third of each weight: 81.4 % at 3e-4, 1.8 M
parameters). ``nn.Linear`` layers only.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import TARGETS_PARAMETER, PeftTuner, head_lr


class Osf(PeftTuner):
    name = "osf"
    paper = """@article{nayak2025sculpting,
  author = {Nayak, Nikhil Shivakumar and Killamsetty, Krishnateja and Han, Ligong and Bhandwaldar, Abhishek and
    Chanda, Prateek and Xu, Kai and Wang, Hao and Pareja, Aldo and Silkin, Oleg and Eyceoz, Mustafa and
    Srivastava, Akash},
  title = {Sculpting Subspaces: Constrained Full Fine-Tuning in {LLMs} for Continual Learning},
  journal = {arXiv preprint arXiv:2504.07097},
  year = {2025}
}"""
    label = "OSF"
    groups = ("peft-2025",)
    summary = "the low singular subspace of each weight trains, orthogonal to its frozen top directions (peft)"
    learning_rate = Hyperparameter("lr", 1e-3, 5e-5, 1e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("preserved", 0.9, 0.5, 0.98, help="fraction of each weight's rank kept frozen (its top directions)"),
        head_lr(1e-2, 1e-3, 5e-2),
        TARGETS_PARAMETER,
    )
    undecayed = ("osf_svd_params",)  # the pretrained weight's own low-rank factors

    def peft_config(self, encoder):
        from peft import OSFConfig

        return OSFConfig(effective_rank=self.params["preserved"], target_modules=self.targets(encoder))
