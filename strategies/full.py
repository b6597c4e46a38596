"""Full fine-tuning: every parameter trains. The reference the other strategies are measured against."""

from peftbench.strategy import Strategy


class Full(Strategy):
    name = "full"
    paper = """@inproceedings{devlin2019bert,
  author = {Devlin, Jacob and Chang, Ming-Wei and Lee, Kenton and Toutanova, Kristina},
  title = {{BERT}: Pre-training of Deep Bidirectional Transformers for Language Understanding},
  booktitle = {Proceedings of the 2019 Conference of the North American Chapter of the Association for Computational
    Linguistics: Human Language Technologies (NAACL-HLT)},
  year = {2019}
}"""
    groups = ("classic",)
    family = "full"
    reference = True
    summary = "every parameter trains"
