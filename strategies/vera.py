"""VeRA (Kopiczko, Blankevoort & Asano, 2024, "VeRA: Vector-based Random Matrix Adaptation", ICLR 2024,
arXiv:2310.11454) through peft (``VeraConfig``).

One pair of random low-rank matrices A (r × in) and B (out × r) is drawn once, frozen and shared by every
adapted layer; each layer trains only two scaling vectors, d (r values, initialised to ``d_initial``)
and b (one value per output feature, initialised to zero, so training starts from the pretrained
function): ΔW = diag(b) · B · diag(d) · A. That is ~10× fewer trainable parameters than LoRA at a far
larger rank (the paper uses r = 256–1024 and reports LoRA-level GLUE scores), and it needs larger learning
rates than LoRA, as the paper's do.

Constraints, from peft's sources: only linear layers (``nn.Linear``, GPT-2's ``Conv1D``); the shared A and
B are drawn at the largest (out, in) of the adapted layers and each layer uses a slice of them, so layers
of different shapes (``targets=all_linear``: the feed-forward's 384→1536 and 1536→384 on MiniLM) are
allowed in this peft (older releases required one shape for every target). A and B are regenerated from
a fixed PRNG key (``projection_prng_key=0``), not from the run's seed, so a run's artifact needs only the
trained vectors and the head: rebuilding through this strategy draws the same A and B.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter, Strategy
from strategies.lora import TARGETS, target_modules


class Vera(Strategy):
    name = "vera"
    paper = """@inproceedings{kopiczko2024vera,
  author = {Kopiczko, Dawid J. and Blankevoort, Tijmen and Asano, Yuki M.},
  title = {{VeRA}: Vector-based Random Matrix Adaptation},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2024}
}"""
    label = "VeRA"
    groups = ("lora-family",)
    family = "reparameterised"
    summary = "frozen shared random low-rank matrices, per-layer trained scaling vectors (peft)"
    learning_rate = Hyperparameter("lr", 1e-2, 1e-3, 5e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("rank", 256, 16, 1024, log=True, help="rank r of the shared random matrices"),
        Hyperparameter("d_initial", 0.1, 0.01, 1.0, log=True, help="initial value of the d vectors (paper: ≤ 0.1)"),
        Hyperparameter("dropout", 0.0, 0.0, 0.3, help="dropout on the adapter input"),
        Hyperparameter("targets", "attention", choices=TARGETS, help="which linear layers get VeRA"),
    )

    def prepare(self, model, total_steps):
        from peft import VeraConfig, get_peft_model

        config = VeraConfig(r=self.params["rank"], d_initial=self.params["d_initial"],
                            vera_dropout=self.params["dropout"],
                            target_modules=target_modules(model.encoder, self.params["targets"], self.name),
                            projection_prng_key=0, bias="none")
        model.encoder = get_peft_model(model.encoder, config)
