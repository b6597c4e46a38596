"""``report/references.bib``: every registered strategy declares its own paper as one BibTeX entry (a subclass its own,
not its parent's), a report cites each compared strategy's paper once after the tools, the real pdflatex and bibtex
compile it without a warning, and an older results.json without papers still gives the tools and says what it lacks."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from peftbench.errors import UserError
from peftbench.schema import load_results, to_json
from reports import render
from reports.references import TOOLS, entry_key, references_bib
from reports.tables import main_table
from strategies import STRATEGIES
from tests.fixtures.make_results import make_results, write_run

# strategies deliberately without a paper, and why
NO_PAPER = {
    "lora_orthogonal": "peft's orthogonal initialisation comes from a blog post (peft PR #2389: 'AFAICT there is no "
                       "paper'); OLoRA's paper describes another method, which rewrites the base weights",
}
# strategies citing another registered strategy's paper on purpose → that strategy
SHARED = {"qdora": "qlora"}  # QDoRA trains DoRA's adapter on a 4-bit encoder as QLoRA trains LoRA's: QLoRA's method
KEY = re.compile(r"[a-z]+\d{4}[a-z0-9]+")  # lowercase first author, year, a word
TEX = r"""\documentclass{article}
\usepackage[T1]{fontenc}
\usepackage{url}
\begin{document}
\nocite{*}
\bibliographystyle{plain}
\bibliography{references}
\end{document}
"""
needs_tex = pytest.mark.skipif(not (shutil.which("pdflatex") and shutil.which("bibtex")),
                               reason="needs pdflatex and bibtex (TeX Live)")


def is_one_entry(text: str) -> bool:
    """``@type{key, field = {...}, ...}`` and nothing else: braces balanced, closing exactly at the end."""
    text = text.strip()
    if entry_key(text) is None:
        return False
    depth = 0
    for position, character in enumerate(text):
        depth += {"{": 1, "}": -1}.get(character, 0)
        if depth < 0 or depth == 0 and character == "}" and position != len(text) - 1:
            return False
    return depth == 0 and text.endswith("}")


def compile_bibliography(bib: str, directory: Path) -> tuple[str, str]:
    """pdflatex, bibtex, pdflatex on a document citing every entry of ``bib``: bibtex's log and the .bbl."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "references.bib").write_text(bib)
    (directory / "paper.tex").write_text(TEX)
    latex = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper.tex"]
    for command in (latex, ["bibtex", "paper"], latex):
        process = subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=300)
        assert process.returncode == 0, f"{command[0]} failed:\n{process.stdout[-3000:]}"
    assert "undefined" not in (directory / "paper.log").read_text()
    return (directory / "paper.blg").read_text(), (directory / "paper.bbl").read_text()


def assert_clean(log: str, bbl: str, keys: set[str]) -> None:
    assert "Warning--" not in log and "error message" not in log, log
    assert set(re.findall(r"\\bibitem\{([^}]+)\}", bbl)) == keys


# ----------------------------------------------------------------------------- what each strategy declares
@pytest.mark.parametrize("name", list(STRATEGIES))
def test_every_strategy_declares_its_own_paper_as_one_bibtex_entry(name):
    cls = STRATEGIES[name]
    assert "paper" in vars(cls), f"{cls.__name__} inherits its paper: declare its own (or None, with the reason)"
    assert cls.info().paper == cls.paper
    if name in NO_PAPER:
        assert cls.paper is None
    else:
        assert is_one_entry(cls.paper), cls.paper
        assert KEY.fullmatch(entry_key(cls.paper))


def test_every_key_names_one_paper_across_the_registry_and_the_tools():
    owners = {entry_key(entry): tool for tool, entry in TOOLS.items()}
    for name, cls in STRATEGIES.items():
        if name in SHARED:
            assert cls.paper == STRATEGIES[SHARED[name]].paper
        elif cls.paper is not None:
            key = entry_key(cls.paper)
            assert key not in owners, f"{name} and {owners.get(key)} both use {key}"
            owners[key] = name


def test_a_subclass_cites_its_own_paper_not_its_parents():
    assert entry_key(STRATEGIES["dora"].paper) != entry_key(STRATEGIES["lora"].paper)
    for name, cls in STRATEGIES.items():
        for parent in cls.__mro__[1:]:
            registered = STRATEGIES.get(getattr(parent, "name", None)) is parent
            if registered and SHARED.get(name) != parent.name:
                assert cls.paper != parent.paper, f"{name} cites {parent.name}'s paper"


@needs_tex
def test_every_paper_in_the_registry_compiles_with_bibtex_without_a_warning(tmp_path):
    papers = {entry_key(cls.paper): cls.paper for cls in STRATEGIES.values() if cls.paper is not None}
    log, bbl = compile_bibliography("\n\n".join([*TOOLS.values(), *papers.values()]) + "\n", tmp_path)
    assert_clean(log, bbl, {*map(entry_key, TOOLS.values()), *papers})


# ----------------------------------------------------------------------------- one comparison's references.bib
def comparison_with(data: dict, name: str, like: str) -> None:
    """Add strategy ``name`` to ``data`` with the trials and seed runs of ``like`` and its own declared info."""
    record = copy.deepcopy(data["strategies"][like])
    record["info"] = to_json(STRATEGIES[name].info())
    data["strategies"][name] = record


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """The 7-strategy comparison of the report tests, plus QDoRA (QLoRA's paper) and LoRA-orth (none), rendered."""
    data = make_results()
    comparison_with(data, "qdora", "qlora")
    comparison_with(data, "lora_orthogonal", "lora")
    run = write_run(tmp_path_factory.mktemp("references") / "run", data)
    render.write_report(run)
    return run


def test_the_report_writes_references_bib_beside_methods_md(report):
    assert (report / "report" / "methods.md").is_file() and (report / "report" / "references.bib").is_file()


def test_tools_come_first_then_each_paper_once_in_the_reports_order(report):
    text = (report / "report" / "references.bib").read_text()
    results = load_results(report)
    order = [row.strategy for row in main_table(results).rows]
    assert [entry_key(e) for e in re.findall(r"^@.*", text, re.M)][:len(TOOLS)] == [*map(entry_key, TOOLS.values())]
    cited = [line.removeprefix("% strategy: ").split(", ") for line in text.splitlines()
             if line.startswith("% strategy: ")]
    firsts = [names[0] for names in cited]
    assert firsts == sorted(firsts, key=order.index)
    assert sorted(name for names in cited for name in names) == sorted(set(order) - {"lora_orthogonal"})
    assert sorted(["qlora", "qdora"], key=order.index) in cited
    assert text.count("@inproceedings{dettmers2023qlora,") == 1
    assert "% no paper on record for: lora_orthogonal " in text


@needs_tex
def test_a_reports_references_bib_compiles_with_bibtex_without_a_warning(report, tmp_path):
    text = (report / "report" / "references.bib").read_text()
    log, bbl = compile_bibliography(text, tmp_path)
    assert_clean(log, bbl, {entry_key(entry) for entry in re.findall(r"^@.*", text, re.M)})


def test_a_results_json_from_before_papers_gives_the_tools_and_names_what_has_none(tmp_path):
    data = make_results()
    for record in data["strategies"].values():
        del record["info"]["paper"]
    results = load_results(write_run(tmp_path / "run", data))
    table = main_table(results)
    text = references_bib(results, table)
    assert [entry_key(e) for e in re.findall(r"^@.*", text, re.M)] == [*map(entry_key, TOOLS.values())]
    assert "% strategy:" not in text
    assert f"% no paper on record for: {', '.join(row.strategy for row in table.rows)} " in text


def test_a_paper_that_is_no_bibtex_entry_is_refused_in_one_line(tmp_path):
    data = make_results()
    data["strategies"]["lora"]["info"]["paper"] = "Hu et al., LoRA, 2022"
    results = load_results(write_run(tmp_path / "run", data))
    with pytest.raises(UserError, match=r"results\.json: strategies\.lora\.info\.paper is not a BibTeX entry"):
        references_bib(results, main_table(results))
