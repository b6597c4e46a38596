"""How many worker processes a comparison starts by default (studies.workers.default_workers): one on a CPU; on a
GPU the count measured fastest (8 on an H200), fewer where the cores or the device's memory cannot take them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from peftbench.models import DEFAULT_MODEL, stored_parameters
from studies import workers


def test_on_a_cpu_one_worker_keeps_the_comparison_reproducible():
    assert workers.default_workers("cpu", DEFAULT_MODEL) == 1
    if not torch.cuda.is_available():
        assert workers.default_workers("auto", DEFAULT_MODEL) == 1


@pytest.mark.parametrize("gib,cores,expected", [(141, 16, 8), (141, 4, 4), (8, 16, 5), (2, 16, 1)])
def test_on_a_gpu_as_many_as_the_memory_and_cores_hold_at_most_the_measured_best(monkeypatch, gib, cores, expected):
    """MiniLM (22.7M parameters read from its safetensors headers) is charged 16 B per parameter + 1 GiB = 1.36 GiB
    per worker, against 90% of the device's memory."""
    assert stored_parameters(DEFAULT_MODEL) == 22_713_728
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: SimpleNamespace(total_memory=gib * 2**30))
    monkeypatch.setattr(workers.os, "cpu_count", lambda: cores)
    assert workers.default_workers("auto", DEFAULT_MODEL) == expected
    assert workers.default_workers("cuda:0", DEFAULT_MODEL) == expected
