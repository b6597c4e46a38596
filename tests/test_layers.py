"""The house's layers (docs/architecture.md): imports go one way, and every code reference in that document
names something that exists, so its worked examples stay true to the code."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# package → the packages it may import; nothing imports runners, and core imports none of the others
ALLOWED = {
    "peftbench": set(),
    "strategies": {"peftbench"},
    "reports": {"peftbench"},
    "studies": {"peftbench", "strategies", "reports"},
    "runners": {"peftbench", "strategies", "studies", "reports"},
}


def imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
        found |= {module.split(".")[0] for module in modules}
    return found & set(ALLOWED)


@pytest.mark.parametrize("package", list(ALLOWED))
def test_imports_go_one_way(package):
    wrong = {str(path.relative_to(ROOT)): sorted(imports - ALLOWED[package] - {package})
             for path in sorted((ROOT / package).glob("*.py"))
             if (imports := imported_packages(path)) - ALLOWED[package] - {package}}
    assert wrong == {}


def test_every_code_reference_in_the_architecture_doc_exists():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    references = set(re.findall(r"`((?:peftbench|studies|reports|runners|strategies)(?:\.\w+)+)`", text))
    paths = set(re.findall(r"`((?:peftbench|studies|reports|runners|strategies|tests|docs)/[\w./]+)`", text))
    assert len(references) > 20 and paths
    missing = []
    for reference in sorted(references):
        parts = reference.split(".")
        for cut in range(len(parts), 0, -1):  # the longest importable prefix, then attributes
            try:
                value = importlib.import_module(".".join(parts[:cut]))
            except ModuleNotFoundError:
                continue
            for attribute in parts[cut:]:
                value = getattr(value, attribute, None)
            if value is None:
                missing.append(reference)
            break
        else:
            missing.append(reference)
    missing += [path for path in sorted(paths) if not (ROOT / path).exists()]
    assert missing == []


def test_no_two_modules_declare_the_same_constant_or_class():
    """One source for each rule: a module-level constant or a class (records among them) is declared in one module,
    and every other imports it."""
    declared: dict[str, list[str]] = {}
    for package in ALLOWED:
        for path in sorted((ROOT / package).glob("*.py")):
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                targets = [node.target] if isinstance(node, ast.AnnAssign) else \
                    node.targets if isinstance(node, ast.Assign) else []
                names = [t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper() and len(t.id) > 1]
                if isinstance(node, ast.ClassDef) and package != "strategies":
                    names.append(node.name)
                for name in names:
                    declared.setdefault(name, []).append(str(path.relative_to(ROOT)))
    assert {name: paths for name, paths in declared.items() if len(paths) > 1} == {}
