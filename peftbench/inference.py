"""What a trained model costs to run as it would be deployed: latency per example at batch 1, throughput at
batch 32, and the memory of its weights; for a model whose peft adapter merges into the base weights
(``merge_and_unload``), both unmerged and merged, with a check that merging left the predictions unchanged.

Strategies differ at inference, not only in training: bottleneck adapters add layers on the path, LoRA adds a
side path unless merged, a 4-bit base is dequantised on every matmul, prompts lengthen every input. The
measurement runs the whole model (encoder, pooling, head; a frozen encoder too, which trained on cached
features) on a fixed sample of dev rows, the same rows for every strategy (``SAMPLE_SEED``), tokenised as the
run tokenised them, in eval mode under ``torch.inference_mode`` and the run's autocast. After ``WARMUP_PASSES``
untimed passes come ``PASSES`` timed ones; a pass is every sample row alone (batch 1), then the sample as one
padded batch. The unmerged and merged models take turns pass by pass, so load on a shared machine hits both
alike, and each number is the median pass; the latency keeps the fastest and slowest pass beside it, an interval
for the median pass that needs no assumption about timing noise (``InferenceCost.range_coverage``). Merging works on a deep copy: the trained model is left as it was.
"""

from __future__ import annotations

import copy
import random
import statistics
import time
import warnings
from typing import Callable

import torch
from torch import nn

from peftbench.artifacts import is_peft_encoder
from peftbench.records import DeployedCost, InferenceCost
from peftbench.data import EncodedSplit, collate

SAMPLE_SIZE = 32  # dev rows timed one by one at batch 1, and together as one batch
BATCH_SIZE = 32
WARMUP_PASSES = 1
PASSES = 6  # the fastest and slowest of 6 passes bracket the median pass with probability 97%
SAMPLE_SEED = 0  # not the run's seed: every strategy and seed is timed on the same rows
TOLERANCE = 1e-4  # max |Δlogit| between merged and unmerged that float rounding explains (fp32)


def inference_sample(split: EncodedSplit, size: int = SAMPLE_SIZE) -> list[int]:
    """The rows every measurement times: seeded, so the same for every strategy of a comparison."""
    return sorted(random.Random(SAMPLE_SEED).sample(range(len(split)), min(size, len(split))))


def merge_blocker(encoder: nn.Module) -> str | None:
    """Why ``encoder``'s trained weights cannot be merged into the base weights, or None when peft can merge
    them. Decided from the model's structure, never from a strategy's name."""
    if is_peft_encoder(encoder):
        tuner = encoder.base_model
        if getattr(encoder.active_peft_config, "is_prompt_learning", False) or not hasattr(tuner, "merge_and_unload"):
            return f"peft's {type(tuner).__name__} has no merge_and_unload"
        return None
    virtual = getattr(encoder, "num_virtual_tokens", None)
    if virtual:
        return f"{virtual} trained virtual tokens are inputs, not weights: nothing merges, and every input is longer"
    foreign = sorted({type(m).__name__ for m in encoder.modules()
                      if not type(m).__module__.startswith(("torch.", "transformers."))})
    if foreign:
        return f"its trained modules ({', '.join(foreign)}) are layers of their own, not peft adapters: nothing merges"
    return "nothing to merge: the trained weights are the encoder's own"


def merged_copy(model: nn.Module) -> tuple[nn.Module | None, str | None]:
    """A deep copy of ``model`` with its adapter merged into the base weights, or (None, why not)."""
    blocker = merge_blocker(model.encoder)
    if blocker is not None:
        return None, blocker
    merged = copy.deepcopy(model)
    try:
        with warnings.catch_warnings():  # peft warns that a 4-bit merge rounds; the record measures by how much
            warnings.filterwarnings("ignore", message=".*rounding errors", category=UserWarning)
            merged.encoder = merged.encoder.merge_and_unload()
    except Exception as error:  # noqa: BLE001 — peft's reasons vary by method; the record keeps the first line
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return None, f"peft could not merge it ({type(error).__name__}: {first})"
    return merged, None


def weight_bytes(model: nn.Module) -> int:
    """Bytes of the parameters and buffers of ``model`` as it sits in memory, each storage counted once:
    4-bit weights at their packed size plus their quantisation constants (bitsandbytes' ``quant_state``)."""
    seen: set[int] = set()
    total = 0

    def add(tensor: torch.Tensor | None) -> None:
        nonlocal total
        if isinstance(tensor, torch.Tensor) and tensor.untyped_storage().data_ptr() not in seen:
            seen.add(tensor.untyped_storage().data_ptr())
            total += tensor.untyped_storage().nbytes()

    for tensor in [*model.parameters(), *model.buffers()]:
        add(tensor)
        state = getattr(tensor, "quant_state", None)
        while state is not None:  # double quantisation nests a second state for the constants
            for name in ("absmax", "code", "offset"):
                add(getattr(state, name, None))
            state = getattr(state, "state2", None)
    return total


def synchronised_seconds(run: Callable[[], object], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    run()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started


@torch.inference_mode()
def measure_inference(model: nn.Module, split: EncodedSplit, pad_id: int, device: torch.device,
                      autocast: Callable[[], object]) -> InferenceCost:
    """Time ``model`` (a :class:`peftbench.classifier.SequenceClassifier` on ``device``) as deployed, on a fixed sample
    of ``split``, unmerged and, where peft can merge its adapter, merged. ``model`` is left as it was."""
    started = time.perf_counter()
    was_training = model.training
    model.eval()
    rows = inference_sample(split)
    singles = [{k: v.to(device) for k, v in collate(split, [row], pad_id)[0].items()} for row in rows]
    batches = [{k: v.to(device) for k, v in collate(split, rows[i:i + BATCH_SIZE], pad_id)[0].items()}
               for i in range(0, len(rows), BATCH_SIZE)]
    merged, note = merged_copy(model)
    variants = {"as_trained": model} | ({"merged": merged} if merged is not None else {})
    difference = None
    if merged is not None:
        difference = max(float((merged(**batch).float() - model(**batch).float()).abs().max()) for batch in batches)
        if not difference <= TOLERANCE:
            note = (f"merging changed the predictions by up to {difference:.2g} in a logit (more than float rounding, "
                    f"{TOLERANCE:g}): the merged model is not the trained one")

    def one_at_a_time(module: nn.Module) -> None:
        with autocast():
            for inputs in singles:
                module(**inputs)

    def batched(module: nn.Module) -> None:
        with autocast():
            for inputs in batches:
                module(**inputs)

    timings: dict[str, dict[str, list[float]]] = {name: {"single": [], "batch": []} for name in variants}
    for done in range(WARMUP_PASSES + PASSES):
        for name, module in variants.items():  # the two variants take turns, pass by pass
            single = synchronised_seconds(lambda: one_at_a_time(module), device)
            batch = synchronised_seconds(lambda: batched(module), device)
            if done >= WARMUP_PASSES:
                timings[name]["single"].append(single)
                timings[name]["batch"].append(batch)
    costs = {name: DeployedCost(latency_ms=1000 * statistics.median(found["single"]) / len(rows),
                                throughput=len(rows) / statistics.median(found["batch"]),
                                memory_bytes=weight_bytes(variants[name]),
                                latency_range_ms=(1000 * min(found["single"]) / len(rows),
                                                  1000 * max(found["single"]) / len(rows)))
             for name, found in timings.items()}
    del merged, variants
    model.train(was_training)
    return InferenceCost(
        as_trained=costs["as_trained"], merged=costs.get("merged"), merge_note=note,
        max_logit_difference=difference, predictions_equal=None if difference is None else difference <= TOLERANCE,
        tolerance=TOLERANCE, examples=len(rows), batch_size=BATCH_SIZE, passes=PASSES, warmup_passes=WARMUP_PASSES,
        mean_tokens=statistics.fmean(len(split.input_ids[row]) for row in rows), threads=torch.get_num_threads(),
        seconds=time.perf_counter() - started,
    )
