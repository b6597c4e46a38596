"""BitFit (Ben Zaken et al., 2022): only the bias terms of the encoder (and the head) train.

A model without biases (Llama, Mistral, Gemma, ModernBERT...) is refused: "BitFit" there would train the
head alone, which is the frozen strategy under another name.
"""

from peftbench.architecture import bias_names
from peftbench.errors import UserError
from peftbench.strategy import Hyperparameter, Strategy


class BitFit(Strategy):
    name = "bitfit"
    paper = """@inproceedings{benzaken2022bitfit,
  author = {Ben Zaken, Elad and Goldberg, Yoav and Ravfogel, Shauli},
  title = {{BitFit}: Simple Parameter-efficient Fine-tuning for Transformer-based Masked Language-models},
  booktitle = {Proceedings of the 60th Annual Meeting of the Association for Computational Linguistics (Volume 2:
    Short Papers)},
  year = {2022}
}"""
    groups = ("classic",)
    family = "selective"
    summary = "only biases and the head train"
    learning_rate = Hyperparameter("lr", 3e-3, 3e-4, 3e-2, log=True, help="peak learning rate")

    def prepare(self, model, total_steps):
        biases = set(bias_names(model.encoder))
        if not biases:
            raise UserError(f"bitfit: this model ({type(model.encoder).__name__}) has no bias terms, so BitFit would "
                            f"train the head alone (that is the frozen strategy)")
        for name, parameter in model.encoder.named_parameters():
            parameter.requires_grad = name in biases
