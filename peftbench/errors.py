"""Errors that mean "the user asked for something impossible", as opposed to bugs."""


class UserError(Exception):
    """Bad input: the command line prints the message on one line and exits with code 2."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the run cannot produce a meaningful model."""


class MemoryCapExceeded(RuntimeError):
    """The process went over the configured memory cap (the CPU stand-in for CUDA OOM)."""
