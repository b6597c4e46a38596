"""What every runner shares: an argument parser whose errors are one line and whose ``--help`` ends with the
command's exit statuses, and a main() wrapper that turns every failure into one line and a status from
:mod:`peftbench.exits` instead of a traceback: bad input (:class:`UserError`) exits 2, a failed run or a library's
exception exits 1 with the traceback written to the run's log (``--debug`` prints it too)."""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NoReturn, Sequence

from peftbench.errors import MemoryCapExceeded, TrainingDiverged, UserError
from peftbench.exits import Exit, describe

DEBUG_FLAG = "--debug"


class ArgumentParser(argparse.ArgumentParser):
    """argparse prints the usage block before an error; we print one line that names --help. Every command
    takes ``--debug`` and lists its exit statuses (``exits``: those beyond 0, 1, 2 and 130) after its flags."""

    def __init__(self, *args, exits: Sequence[Exit] = (), **kwargs):
        epilog = kwargs.pop("epilog", None)
        kwargs["epilog"] = "\n\n".join(filter(None, [epilog, describe(*exits)]))
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        self.add_argument(DEBUG_FLAG, action="store_true",
                          help="when a library fails, print its traceback here too (it is always in the log)")

    def error(self, message: str) -> NoReturn:
        self.exit(Exit.BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


@dataclass
class FailureReport:
    """What a runner has told us so far about where a failure should be reported: the log that receives the
    traceback (else a file in the temporary directory) and what was running (e.g. ``strategy lora``)."""

    log: Path | None = None
    subject: str | None = None

    def prefix(self) -> str:
        return f"{self.subject}: " if self.subject else ""

    def write_traceback(self, error: BaseException) -> Path:
        """Append the traceback to the log, with a time stamp; returns where it went."""
        text = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {os.getpid()} {self.prefix()}traceback\n" + "".join(
            traceback.format_exception(error))
        for path in filter(None, [self.log, Path(tempfile.gettempdir()) / f"peftbench-{os.getpid()}.log"]):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a", encoding="utf-8") as handle:
                    handle.write(text)
                return path
            except OSError:
                continue
        return Path("(nowhere: the log could not be written)")


FAILURE = FailureReport()


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def quiet_libraries() -> None:
    """Silence the progress bars and advisory warnings datasets, transformers, peft and bitsandbytes
    print on every load. Environment and logging only, so it is cheap and works before those are imported."""
    import logging
    import warnings

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="peft")
    # the environment is read at import: switch bars off in libraries a runner already imported
    if "huggingface_hub" in sys.modules:
        sys.modules["huggingface_hub"].utils.disable_progress_bars()
    if "datasets" in sys.modules:
        sys.modules["datasets"].disable_progress_bars()
    if "transformers" in sys.modules:
        sys.modules["transformers"].utils.logging.set_verbosity_error()
        sys.modules["transformers"].utils.logging.disable_progress_bar()


def run_main(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> NoReturn:
    """Run a runner's main and exit with its status. Bad input ends in one line and exit 2; a run that fails
    (diverged, out of memory) or a library's exception in one line (what was running, the exception's type
    and first line, where the traceback was written) and exit 1; Ctrl-C in exit 130."""
    quiet_libraries()
    # The ~500k objects the imports created live as long as the process: out of the collector's sight,
    # the full gc.collect() after every run (peftbench.costs.release_freed_memory) takes ms instead of ~0.2 s.
    gc.freeze()
    debug = DEBUG_FLAG in (sys.argv[1:] if argv is None else argv)
    try:
        code = main(argv)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        code = Exit.BAD_INPUT
    except (TrainingDiverged, MemoryCapExceeded) as error:  # the run failed, the input was fine
        print(f"run failed: {FAILURE.prefix()}{error}", file=sys.stderr)
        code = Exit.FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = Exit.INTERRUPTED
    except Exception as error:  # noqa: BLE001 — a library failed: one line, the traceback in the log
        if debug:
            traceback.print_exc()
        where = FAILURE.write_traceback(error)
        hint = "" if debug else f"; {DEBUG_FLAG} prints it here"
        print(f"failed: {FAILURE.prefix()}{type(error).__name__}: {first_line(error)} (traceback in {where}{hint})",
              file=sys.stderr)
        code = Exit.FAILED
    sys.exit(int(code))


def positive_int(text: str) -> int:
    value = int_arg(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    value = int_arg(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or a positive integer, got {text!r}")
    return value


def int_arg(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text!r}")
    return value
