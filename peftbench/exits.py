"""The exit statuses of every peftbench command, in one table: the runners return them, ``--help`` and the
README print them, and a script or CI job tells the outcomes apart by them alone."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    FAILED = 1  # a run or a library failed: one line names it and the log that holds the traceback
    BAD_INPUT = 2  # the command, a flag or an input file is wrong: one line says what; nothing was written
    PARTIAL = 3  # a comparison finished, but a requested strategy produced no result (or fewer seed runs)
    UNDETERMINED = 4  # a recommendation: the leaders could not be told apart, none is shown to be best
    NOTHING_LEARNED = 5  # a recommendation: no strategy beat the majority-class baseline beyond noise
    INTERRUPTED = 130  # Ctrl-C


MEANINGS: dict[Exit, str] = {
    Exit.OK: "done",
    Exit.FAILED: "a run or a library failed (one line names it and the log with the traceback; --debug shows it)",
    Exit.BAD_INPUT: "bad input: one line says what, and nothing was written",
    Exit.PARTIAL: "partial: the report was written, but a requested strategy produced no result; the last line "
                  "names each such strategy, its error and the log to read",
    Exit.UNDETERMINED: "undetermined: no strategy is shown to be best; the top group is named",
    Exit.NOTHING_LEARNED: "nothing learned: no strategy beat the majority-class baseline",
    Exit.INTERRUPTED: "interrupted (Ctrl-C)",
}


def describe(*codes: Exit) -> str:
    """The ``exit status`` paragraph of a command's ``--help``: the codes it can return, with their meanings."""
    shown = sorted({Exit.OK, Exit.FAILED, Exit.BAD_INPUT, *codes, Exit.INTERRUPTED})
    return "exit status:\n" + "\n".join(f"  {int(code):>3}  {MEANINGS[code]}" for code in shown)
