"""The processes of one comparison on one machine: the coordinator holds the output directory's lock and starts
``--workers N - 1`` more processes that share the storage; each process gets its share of the CPU threads and,
on a GPU, of the device's memory; everything they log goes to ``compare.log``.

Several processes on one GPU fill it from outside the training step: the step of a small encoder is bound by the
host launching kernels, not by the GPU (benchmarks/NOTES.md, "A whole comparison on one GPU").
"""

from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import signal
import subprocess
from pathlib import Path
from typing import IO, Sequence

from peftbench import cli
from peftbench.errors import UserError
from peftbench.layout import ComparisonDir

GPU_MEMORY_SHARE = 0.9  # of the device's memory, divided among the workers on it (the rest: the driver, others)
# Measured on an H200 (benchmarks/NOTES.md, "A whole comparison on one GPU"): the quick comparison of 6 strategies
# on MiniLM took 145 s with 1 worker, 63 s with 4 and 51 s with 8, each worker holding 1.4 GiB of device memory.
GPU_WORKERS = 8
BYTES_PER_PARAMETER = 16  # fp32 weights, gradients and AdamW's two moments: what a full fine-tuning worker holds
WORKER_OVERHEAD_BYTES = 2**30  # CUDA context, activations and allocator slack per worker (measured ≈ 1 GiB)
ASSUMED_PARAMETERS = 110_000_000  # a model whose size cannot be read before loading it: bert-base's


def default_workers(device: str, model: str) -> int:
    """``--workers`` when it is not given. On a CPU 1: the comparison stays reproducible, and a few cores have no
    room for more. On a GPU, GPU_WORKERS (the count measured fastest), fewer where the machine has fewer cores or
    the device's memory cannot hold that many trainings of this model: each worker is charged
    BYTES_PER_PARAMETER per parameter plus WORKER_OVERHEAD_BYTES (1.4 GiB for MiniLM, as measured)."""
    import torch

    if device == "cpu" or not torch.cuda.is_available() or (device != "auto" and not device.startswith("cuda")):
        return 1
    from peftbench.models import stored_parameters

    index = int(device.split(":")[1]) if ":" in device else 0
    memory = torch.cuda.get_device_properties(index).total_memory * GPU_MEMORY_SHARE
    per_worker = BYTES_PER_PARAMETER * (stored_parameters(model) or ASSUMED_PARAMETERS) + WORKER_OVERHEAD_BYTES
    return max(1, min(GPU_WORKERS, os.cpu_count() or 1, int(memory // per_worker)))


def share_resources(workers: int, device: str) -> None:
    """This process's share of the machine: cores ÷ workers CPU threads, and on a CUDA device a bound on the
    memory its caching allocator may take, so one worker cannot starve the others of device memory."""
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
    if workers > 1 and device != "cpu" and torch.cuda.is_available():
        torch.cuda.set_per_process_memory_fraction(GPU_MEMORY_SHARE / workers)


def take_lock(out: Path) -> IO:
    """One coordinating process per output directory; the lock dies with the process."""
    handle = open(ComparisonDir(out).lock, "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise UserError(f"another comparison is already running in {out}; wait for it or use --workers") from None
    return handle


def die_with_parent() -> None:
    """Linux: a worker process is killed when its coordinator dies, so none outlives a kill."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def spawn_workers(command: Sequence[str], count: int, out: Path) -> list[subprocess.Popen]:
    """``count - 1`` more processes running ``command`` (the coordinator's own command line) as workers 1…."""
    log = open(ComparisonDir(out).workers_log, "a")
    # idle OpenMP threads sleep instead of spinning: processes that share cores otherwise slow each other down
    # many times over (benchmarks/NOTES.md, "OpenMP wait policy")
    environment = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    return [subprocess.Popen([*command, "--worker-index", str(index), "--quiet", "--no-report"], stdout=log,
                             stderr=log, env=environment, preexec_fn=die_with_parent)
            for index in range(1, count)]


def setup_logging(out: Path) -> logging.Logger:
    """Everything that happens goes to ``compare.log`` in the comparison directory, and so does the traceback
    of a failure that ends the command (peftbench.cli)."""
    path = ComparisonDir(out).log
    cli.FAILURE.log = path
    logger = logging.getLogger("peftbench")
    logger.setLevel(logging.INFO)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(message)s"))
    for name in ("peftbench", "optuna"):
        for old in [h for h in logging.getLogger(name).handlers if isinstance(h, logging.FileHandler)]:
            logging.getLogger(name).removeHandler(old)
            old.close()
        logging.getLogger(name).addHandler(handler)
    quiet_optuna()
    return logger


def quiet_optuna() -> None:
    """Optuna logs to the comparison's log only, and its experimental-feature warnings (heartbeats on a
    shared storage) are not printed: stderr stays the progress, or the one line of a refusal."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.logging.disable_default_handler()
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
