"""Frozen encoder (linear probe): only the classification head trains.

Because the encoder never changes, the core computes its pooled features once and trains the head on
the cached features (``encoder_frozen = True``), which makes each trial nearly free.
"""

from peftbench.strategy import Hyperparameter, Strategy, freeze_encoder


class Frozen(Strategy):
    name = "frozen"
    paper = """@inproceedings{peters2019tune,
  author = {Peters, Matthew E. and Ruder, Sebastian and Smith, Noah A.},
  title = {To Tune or Not to Tune? Adapting Pretrained Representations to Diverse Tasks},
  booktitle = {Proceedings of the 4th Workshop on Representation Learning for NLP (RepL4NLP-2019)},
  year = {2019}
}"""
    groups = ("classic",)
    family = "selective"
    summary = "encoder frozen, only the head trains (on cached features)"
    learning_rate = Hyperparameter("lr", 1e-2, 1e-4, 1e-1, log=True, help="peak learning rate")
    encoder_frozen = True

    def prepare(self, model, total_steps):
        freeze_encoder(model)
        model.encoder_frozen = True
