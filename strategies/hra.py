"""HRA (Yuan et al., 2024, "Bridging The Gap between Low-rank and Orthogonal Adaptation via Householder
Reflection Adaptation", NeurIPS; via peft): a frozen weight is multiplied by a chain of ``rank`` learned
Householder reflections, ``W' = W H1 H2 … Hr`` with ``Hi = I - 2 ui uiᵀ/‖ui‖²``: an orthogonal update
(like OFT) whose distance from the identity is low-rank (like LoRA). The reflections are initialised in
equal pairs, so they cancel and training starts from the pretrained weights; that needs an even rank.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import TARGETS_PARAMETER, PeftTuner


class Hra(PeftTuner):
    name = "hra"
    paper = """@inproceedings{yuan2024householder,
  author = {Yuan, Shen and Liu, Haotian and Xu, Hongteng},
  title = {Bridging The Gap between Low-rank and Orthogonal Adaptation via Householder Reflection Adaptation},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2024}
}"""
    summary = "chains of Householder reflections (orthogonal, low-rank) on attention (or all) linear layers, via peft"
    learning_rate = Hyperparameter("lr", 1e-2, 1e-3, 5e-2, log=True, help="peak learning rate")
    hyperparameters = (
        Hyperparameter("rank", 8, choices=(2, 4, 6, 8, 12, 16, 24, 32), help="number of reflections (even)"),
        Hyperparameter("gram_schmidt", False, choices=(False, True), help="orthogonalise the reflection vectors"),
        TARGETS_PARAMETER,
    )

    def peft_config(self, encoder):
        from peft import HRAConfig

        return HRAConfig(r=self.params["rank"], apply_GS=self.params["gram_schmidt"], target_modules=self.targets(encoder))
