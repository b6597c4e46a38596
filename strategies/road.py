"""RoAd (Liao & Monz, 2024, "3-in-1: 2D Rotary Adaptation for Efficient Finetuning, Efficient Batching and
Composability", NeurIPS 2024, arXiv:2409.00119) through peft (``RoadConfig``).

Each adapted layer's output features are paired up (within groups of ``group_size``) and every pair is rotated
and scaled in its plane by a trained angle θ and scale α: y' = α·R(θ)·y, pair by pair. That is OFT's idea at its
smallest (2 × 2 orthogonal blocks, on outputs) plus (IA)³-like scales, with out/2 angles and out/2 scales per
layer in ``road_1`` (``road_2``/``road_4``: one or two per feature). θ starts at 0 and α at 1, so training
starts from the pretrained function; the scales start at 1, so they get no weight decay.

The paper adapts every linear layer, and so does the default here (it is still ~0.1 % of the weights). Learning
rate: peft's docs ask for about 10× LoRA's (1e-3 on decoders where LoRA uses 1e-4). ``group_size`` (peft's
default 64) must divide every adapted layer's output width, which it does on every model peftbench tests; a
model where it does not is refused in one line. ``nn.Linear`` layers only.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.lora import TARGETS
from strategies.loha import PeftTuner, check_divides


class Road(PeftTuner):
    name = "road"
    paper = """@inproceedings{liao2024road,
  author = {Liao, Baohao and Monz, Christof},
  title = {3-in-1: {2D} Rotary Adaptation for Efficient Finetuning, Efficient Batching and Composability},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2024}
}"""
    label = "RoAd"
    summary = "pairs of output features rotated and scaled in their plane by trained angles and scales (peft)"
    learning_rate = Hyperparameter("lr", 2e-2, 1e-3, 1e-1, log=True, help="peak learning rate (about 10× LoRA's)")
    hyperparameters = (
        Hyperparameter("variant", "road_1", choices=("road_1", "road_2", "road_4"),
                       help="angles and scales per pair (road_1), per feature (road_2) or two per feature (road_4)"),
        Hyperparameter("targets", "all_linear", choices=TARGETS, help="which linear layers get RoAd"),
    )
    undecayed = ("road_alpha",)  # the scales start at 1; decay would pull them towards 0

    def peft_config(self, encoder):
        from peft import RoadConfig

        targets = self.targets(encoder)
        check_divides(self.name, encoder, targets, 64, "group_size", outputs_only=True)
        return RoadConfig(variant=self.params["variant"], group_size=64, target_modules=targets)
