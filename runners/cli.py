"""``peftbench COMMAND ...``: the console script ``pip install`` puts on the PATH.

``peftbench compare --task sst2`` is ``python -m runners.compare --task sst2``, with the same flags, output
and exit statuses (peftbench.exits); likewise every other runner (train, report, recommend,
...). ``peftbench --help`` lists the commands; ``peftbench COMMAND --help`` shows a command's flags.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from peftbench import cli
from peftbench.exits import Exit

PROG = "peftbench"
RUNNERS = Path(__file__).resolve().parent
NOT_COMMANDS = ("cli", "common", "flags")  # modules of runners/ that are not commands
# How --help describes the commands it knows (and lists them first, in this order); any other runner module
# with a main() is a command too, described by its docstring's first line.
SUMMARIES = {
    "compare": "tune every strategy on an equal budget, re-run the best with several seeds, write the report",
    "train": "train one run of one strategy and print its record",
    "report": "re-render a comparison's report (or combine several) from results.json, without training",
    "recommend": "which strategy to use, under memory, time, parameter and size constraints",
    "export": "a comparison's trained model for use without peftbench (peft adapter or merged model, and head)",
    "choose": "race the strategies to an answer: budget only for those still in contention (default 15 min)",
}


def commands() -> dict[str, str]:
    """Every command that exists: a module runners.<name> defining main(argv) (run through peftbench.cli.run_main),
    with its summary. Read from the source files, so --help imports no runner."""
    found = {}
    for module in pkgutil.iter_modules([str(RUNNERS)]):
        if module.name in NOT_COMMANDS or module.name.startswith("_"):
            continue
        tree = ast.parse((RUNNERS / f"{module.name}.py").read_text(encoding="utf-8"))
        if any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body):
            doc = (ast.get_docstring(tree) or module.name).strip().splitlines()[0]
            found[module.name] = SUMMARIES.get(module.name, doc)
    order = list(SUMMARIES)
    return dict(sorted(found.items(), key=lambda item: (order.index(item[0]) if item[0] in order else len(order),
                                                        item[0])))


def usage() -> str:
    known = commands()
    width = max(map(len, known))
    lines = [f"usage: {PROG} COMMAND [ARGS ...]", "", "Compare fine-tuning strategies for pretrained text encoders "
             "on your task, and find out which one to use.", "", "commands:"]
    lines += [f"  {name:{width}}  {summary}" for name, summary in known.items()]
    lines += ["", f"'{PROG} COMMAND --help' shows a command's flags (the same as 'python -m runners.COMMAND')."]
    return "\n".join(lines)


def fail(message: str) -> int:
    print(f"{PROG}: error: {message} (see {PROG} --help)", file=sys.stderr)
    return Exit.BAD_INPUT


@contextmanager
def named(command: str) -> Iterator[None]:
    """The runner's parser calls itself ``python -m runners.<command>``; here it is ``peftbench <command>``, so
    usage lines and one-line errors name what the user typed."""
    original = cli.ArgumentParser.__init__

    def __init__(self, *args, prog: str | None = None, **kwargs):
        if prog == f"python -m runners.{command}":
            prog = f"{PROG} {command}"
        original(self, *args, prog=prog, **kwargs)

    cli.ArgumentParser.__init__ = __init__
    try:
        yield
    finally:
        cli.ArgumentParser.__init__ = original


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    known = commands()
    if not argv:
        return fail(f"give a command: {', '.join(known)}")
    command, rest = argv[0], argv[1:]
    if command in ("-h", "--help", "help"):
        print(usage())
        return 0
    if command not in known:
        what = f"unknown option {command!r}" if command.startswith("-") else f"unknown command {command!r}"
        return fail(f"{what}: choose from {', '.join(known)}")
    runner = importlib.import_module(f"runners.{command}")
    with named(command):
        cli.run_main(runner.main, rest)  # exits with the runner's code
    return 0  # not reached: run_main exits


if __name__ == "__main__":
    sys.exit(main())
