"""The documentation a reader follows: every relative link in README.md and docs/ leads to a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_every_relative_link_in_the_readme_and_docs_resolves():
    pages = [ROOT / "README.md", ROOT / "strategies" / "README.md", *sorted((ROOT / "docs").glob("*.md")),
             *sorted((ROOT / "docs" / "guides").glob("*.md"))]
    broken = []
    for page in pages:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            path = target.split("#", 1)[0]
            if not path or re.match(r"[a-z]+:", path):
                continue
            if not (page.parent / path).exists():
                broken.append(f"{page.relative_to(ROOT)} → {target}")
    assert broken == []


def documented_commands() -> list[tuple[str, list[str]]]:
    """Every ``python -m runners.X ...`` line in the README's and the guides' bash blocks, continuations joined."""
    import shlex

    found = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs" / "guides").glob("*.md"))]:
        for block in re.findall(r"```bash\n(.*?)```", page.read_text(encoding="utf-8"), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                words = shlex.split(line, comments=True)
                if "-m" in words and words[words.index("-m") + 1].startswith("runners."):
                    start = words.index("-m")
                    found.append((words[start + 1], words[start + 2:]))
    return found


def test_every_command_in_the_readme_and_guides_parses():
    """A flag renamed or removed breaks the documented command here, not in a reader's terminal."""
    import importlib

    commands = documented_commands()
    assert len(commands) > 20 and {module for module, _ in commands} >= {
        "runners.compare", "runners.choose", "runners.report", "runners.recommend", "runners.export", "runners.train"}
    for module, argv in commands:
        try:
            importlib.import_module(module).build_parser().parse_args(argv)
        except SystemExit as error:
            raise AssertionError(f"{module} {' '.join(argv)}: exit {error.code}") from None
