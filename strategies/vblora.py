"""VB-LoRA (Li, Han & Ji, 2024, "VB-LoRA: Extreme Parameter Efficient Fine-Tuning with Vector Banks",
NeurIPS 2024, arXiv:2405.15179) through peft (``VBLoRAConfig``).

LoRA's A and B matrices of every adapted layer are cut into sub-vectors of ``vector_length`` numbers, and each
sub-vector is a top-``topk`` softmax mixture of the vectors in one bank shared by the whole model: what trains is
the bank (``num_vectors`` × ``vector_length``) and, per sub-vector, the mixing logits. The paper reports LoRA-level
GLUE scores from a small fraction of LoRA's stored parameters.

Adapted to a classifier as peft's RoBERTa example does: three learning rates. ``lr`` drives the logits (example:
1e-2), the bank trains at ``bank_lr_ratio`` × ``lr`` (example: 1e-3, ratio 0.1) and the head at ``head_lr``
(example: 4e-3). ``vector_length`` must divide the input and output width of every adapted layer: the choices
(32–128) divide the widths of the models peftbench tests (multiples of 64, and 128 on MiniLM); a model where
it does not is refused in one line. Linear and GPT-2 Conv1D layers.
"""

from __future__ import annotations

from peftbench.strategy import Hyperparameter
from strategies.loha import TARGETS_PARAMETER, PeftTuner, check_divides, head_lr


class VBLoRA(PeftTuner):
    name = "vblora"
    paper = """@inproceedings{li2024vblora,
  author = {Li, Yang and Han, Shaobo and Ji, Shihao},
  title = {{VB-LoRA}: Extreme Parameter Efficient Fine-Tuning with Vector Banks},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2024}
}"""
    label = "VB-LoRA"
    groups = ("lora-family",)
    summary = "LoRA matrices composed from one shared bank of sub-vectors by learned top-k mixtures (peft)"
    takes_conv1d = True
    rate_ratios = {"vblora_vector_bank": "bank_lr_ratio"}
    learning_rate = Hyperparameter("lr", 1e-2, 1e-3, 1e-1, log=True, help="peak learning rate of the mixing logits")
    hyperparameters = (
        Hyperparameter("rank", 4, 1, 16, log=True, help="rank of the composed LoRA matrices"),
        Hyperparameter("num_vectors", 90, 16, 512, log=True, help="vectors in the shared bank"),
        Hyperparameter("vector_length", 64, choices=(32, 64, 128), help="length of a bank vector (divides every adapted width)"),
        Hyperparameter("topk", 2, 1, 4, help="bank vectors mixed into each sub-vector"),
        Hyperparameter("bank_lr_ratio", 0.1, 0.01, 1.0, log=True, help="learning rate of the bank / lr"),
        head_lr(4e-3, 4e-4, 4e-2),
        TARGETS_PARAMETER,
    )

    def peft_config(self, encoder):
        from peft import VBLoRAConfig

        placement = self.placement(encoder)
        check_divides(self.name, encoder, placement["target_modules"], self.params["vector_length"], "vector_length")
        return VBLoRAConfig(r=self.params["rank"], num_vectors=self.params["num_vectors"],
                            vector_length=self.params["vector_length"], topk=self.params["topk"], **placement)
