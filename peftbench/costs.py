"""What a run costs: peak memory, the environment it ran in, and the size of what it must save."""

from __future__ import annotations

import ctypes
import gc
import platform
import resource
from pathlib import Path

import torch

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


class PeakMemory:
    """Peak memory of one run: CUDA max allocated on a GPU, otherwise the process's peak RSS.

    On Linux the RSS high-water mark is reset at the start (``/proc/self/clear_refs``), so a run
    inside a long-lived process (an Optuna study) gets its own peak, not the process's. Memory that
    earlier runs freed is handed back to the OS first: glibc otherwise keeps it mapped, every later run
    starts from the biggest run's RSS, and all strategies of a comparison report the same peak.
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.kind = "cuda_max_allocated" if device.type == "cuda" else "cpu_peak_rss"
        self._resettable = False

    def start(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        _trim_heap()  # garbage was collected when the last run ended (a full gc.collect() costs ~0.15 s)
        try:
            _CLEAR_REFS.write_text("5")
            self._resettable = True
        except OSError:
            self._resettable = False

    def peak_bytes(self) -> int:
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device))
        if self._resettable:
            return _status_kib("VmHWM") * 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def release_freed_memory() -> None:
    """Collect garbage and return freed memory to the OS, so RSS counts only what is still in use."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    _trim_heap()


def _trim_heap() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: RSS may include freed memory, and peaks of earlier runs


def current_rss_bytes() -> int:
    return _status_kib("VmRSS") * 1024


def _status_kib(field: str) -> int:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def versions() -> dict[str, str]:
    """Versions of the libraries that decide the numbers, for the result record."""
    import importlib.metadata as metadata

    found = {"python": platform.python_version()}
    for package in ("torch", "transformers", "peft", "bitsandbytes", "datasets", "optuna"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
