"""``report/references.bib``: BibTeX for what a comparison ran on and what it compared, written from ``results.json``
alone, so a paper's methods section cites exactly that: the tools first, then the paper of every compared strategy.

A strategy declares its own paper (``peftbench.strategy.Strategy.paper``, carried in ``results.json`` as
``StrategyInfo.paper``); nothing here looks a strategy up by name, so a new strategy's paper needs no edit here, and
an older ``results.json`` that predates the field still gives the tools and says which strategies have no paper."""

from __future__ import annotations

import re

from peftbench.errors import UserError
from peftbench.layout import RESULTS_FILE
from peftbench.records import ComparisonRecord
from reports.tables import MainTable

# the software every comparison runs on: Optuna, PEFT and Transformers as their READMEs ask to be cited, PyTorch as its
# NeurIPS 2019 paper
TOOLS = {
    "Optuna": r"""@inproceedings{akiba2019optuna,
  author = {Akiba, Takuya and Sano, Shotaro and Yanase, Toshihiko and Ohta, Takeru and Koyama, Masanori},
  title = {{O}ptuna: A Next-Generation Hyperparameter Optimization Framework},
  booktitle = {The 25th ACM SIGKDD International Conference on Knowledge Discovery \& Data Mining},
  pages = {2623--2631},
  year = {2019}
}""",
    "PEFT": r"""@misc{mangrulkar2022peft,
  author = {Mangrulkar, Sourab and Gugger, Sylvain and Debut, Lysandre and Belkada, Younes and Paul, Sayak and
    Bossan, Benjamin and Tietz, Marian},
  title = {{PEFT}: State-of-the-art Parameter-Efficient Fine-Tuning methods},
  howpublished = {\url{https://github.com/huggingface/peft}},
  year = {2022}
}""",
    "Transformers": r"""@inproceedings{wolf2020transformers,
  author = {Wolf, Thomas and Debut, Lysandre and Sanh, Victor and Chaumond, Julien and Delangue, Clement and
    Moi, Anthony and Cistac, Pierric and Rault, Tim and Louf, R{\'e}mi and Funtowicz, Morgan and Davison, Joe and
    Shleifer, Sam and von Platen, Patrick and Ma, Clara and Jernite, Yacine and Plu, Julien and Xu, Canwen and
    Le Scao, Teven and Gugger, Sylvain and Drame, Mariama and Lhoest, Quentin and Rush, Alexander M.},
  title = {Transformers: State-of-the-Art Natural Language Processing},
  booktitle = {Proceedings of the 2020 Conference on Empirical Methods in Natural Language Processing: System
    Demonstrations},
  pages = {38--45},
  year = {2020}
}""",
    "PyTorch": r"""@inproceedings{paszke2019pytorch,
  author = {Paszke, Adam and Gross, Sam and Massa, Francisco and Lerer, Adam and Bradbury, James and Chanan, Gregory
    and Killeen, Trevor and Lin, Zeming and Gimelshein, Natalia and Antiga, Luca and Desmaison, Alban and
    K{\"o}pf, Andreas and Yang, Edward and DeVito, Zachary and Raison, Martin and Tejani, Alykhan and
    Chilamkurthy, Sasank and Steiner, Benoit and Fang, Lu and Bai, Junjie and Chintala, Soumith},
  title = {{PyTorch}: An Imperative Style, High-Performance Deep Learning Library},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2019}
}""",
}
ENTRY_START = re.compile(r"@(\w+)\s*\{\s*([^,\s{}]+)\s*,")  # "@type{key," at the start of an entry


def entry_key(entry: str) -> str | None:
    """The citation key of one BibTeX entry (two strategies citing one paper share it), or None if it is none."""
    found = ENTRY_START.match(entry.strip())
    return found.group(2) if found else None


def references_bib(results: ComparisonRecord, table: MainTable) -> str:
    """The tools, then each compared strategy's paper once, in the report's order (``table``), under a comment naming
    the strategies that cite it; the strategies with no paper on record are named in a comment, to cite by hand."""
    papers: dict[str, tuple[str, list[str]]] = {}  # key → (entry, the strategies citing it)
    without = []
    for name in (row.strategy for row in table.rows):
        paper = results.strategies[name].info.paper
        if paper is None:
            without.append(name)
            continue
        key = entry_key(paper)
        if key is None:
            where = results.directory / RESULTS_FILE if results.directory else RESULTS_FILE
            raise UserError(f"{where}: strategies.{name}.info.paper is not a BibTeX entry (@type{{key, ...}}): "
                            f"{paper.strip()[:40]!r}")
        papers.setdefault(key, (paper.strip(), []))[1].append(name)
    blocks = [f"% tool: {tool}\n{entry}" for tool, entry in TOOLS.items()]
    blocks += [f"% strategy: {', '.join(names)}\n{entry}" for entry, names in papers.values()]
    if without:
        blocks.append(f"% no paper on record for: {', '.join(without)} (cite by hand what they build on)")
    header = ("% The tools this comparison ran on and the paper of each strategy it compared, written from "
              "results.json by python -m runners.report.")
    return "\n\n".join([header, *blocks]) + "\n"
