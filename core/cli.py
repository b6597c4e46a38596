"""What every runner shares: an argument parser whose errors are one line, and a main() wrapper
that turns :class:`UserError` into one line on stderr and exit code 2 instead of a traceback."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from typing import Callable, NoReturn, Sequence

from core.errors import MemoryCapExceeded, TrainingDiverged, UserError

EXIT_BAD_INPUT = 2
EXIT_RUN_FAILED = 1


class ArgumentParser(argparse.ArgumentParser):
    """argparse prints the usage block before an error; we print one line that names --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


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
    """Run a runner's main; bad input ends in one line and exit code 2, a run that fails (diverged,
    out of memory) in one line and exit code 1, Ctrl-C in exit code 130."""
    quiet_libraries()
    # The ~500k objects the imports created live as long as the process: out of the collector's sight,
    # the full gc.collect() after every run (core.costs.release_freed_memory) takes ms instead of ~0.2 s.
    gc.freeze()
    try:
        code = main(argv)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        code = EXIT_BAD_INPUT
    except (TrainingDiverged, MemoryCapExceeded) as error:  # the run failed, the input was fine
        print(f"run failed: {error}", file=sys.stderr)
        code = EXIT_RUN_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    sys.exit(code)


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
