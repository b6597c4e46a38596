"""``peftbench.inference`` on the tiny random BERT: a LoRA model is timed unmerged and merged, with the same
predictions both ways and its side path's bytes gone once merged; a 4-bit QLoRA base rounds differently when
merged, and the record says by how much; bottleneck adapters, prompts and full weights do not merge, each
with its reason; a frozen run measured through ``peftbench.train.train`` carries the record, which survives the
round trip through ``results.json``'s dict form."""

from __future__ import annotations

import json

import pytest
import torch

from peftbench.build import build_model
from peftbench.config import TrainConfig
from peftbench.records import RunResult
from peftbench.schema import parse, to_json
from peftbench.data import encode_split
from peftbench.inference import BATCH_SIZE, PASSES, SAMPLE_SIZE, TOLERANCE, inference_sample, measure_inference
from peftbench.models import load_tokenizer
from peftbench.tasks import load_task
from peftbench.train import train
from strategies import get_strategy

CPU = torch.device("cpu")


def no_autocast():
    return torch.autocast("cpu", enabled=False)


@pytest.fixture(scope="module")
def dev(tiny_model, data_dir):
    """The toy sst2 dev split (32 rows), tokenised as a run tokenises it."""
    config = TrainConfig(task="sst2", model=tiny_model, data_dir=data_dir)
    data = load_task(config.task_request())
    tokenizer = load_tokenizer(tiny_model)
    return encode_split(data.dev, data.spec, tokenizer, config.max_length), tokenizer.pad_token_id


def trained(name: str, tiny_model: str, **params):
    """A model of ``name`` whose trainable tensors moved away from their initialisation (LoRA's B starts at
    zero, where merged and unmerged agree trivially)."""
    model = build_model(TrainConfig(model=tiny_model, seed=0), get_strategy(name, params), num_labels=2, total_steps=10)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    return model.eval()


def logits(model, split, pad_id) -> torch.Tensor:
    from peftbench.data import collate

    inputs, _ = collate(split, list(range(len(split))), pad_id)
    with torch.no_grad():
        return model(**inputs)


def test_the_sample_is_fixed_whatever_the_run_seed(dev):
    split, _ = dev
    torch.manual_seed(123)
    first = inference_sample(split)
    torch.manual_seed(456)
    assert inference_sample(split) == first == sorted(set(first))
    assert len(first) == min(SAMPLE_SIZE, len(split)) == 32


def test_lora_is_timed_unmerged_and_merged_with_the_same_predictions(tiny_model, dev):
    split, pad_id = dev
    model = trained("lora", tiny_model)
    before = logits(model, split, pad_id)
    cost = measure_inference(model, split, pad_id, CPU, no_autocast)
    assert cost.merged is not None and cost.merge_note is None
    assert cost.predictions_equal and 0 <= cost.max_logit_difference <= TOLERANCE
    for form in (cost.as_trained, cost.merged):
        assert form.latency_ms > 0 and form.throughput > 0
        low, high = form.latency_range_ms  # the fastest and slowest pass bracket the median pass
        assert 0 < low <= form.latency_ms <= high
    assert cost.range_coverage == pytest.approx(1 - 2 * 0.5 ** PASSES) and cost.range_coverage >= 0.95
    # merged, the LoRA matrices are gone and nothing else: the base weights keep their shapes
    lora_bytes = sum(p.numel() * p.element_size() for name, p in model.named_parameters() if ".lora_" in name)
    assert lora_bytes > 0 and cost.as_trained.memory_bytes - cost.merged.memory_bytes == lora_bytes
    everything = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
    assert cost.as_trained.memory_bytes == everything
    assert (cost.examples, cost.batch_size, cost.passes, cost.threads) == (32, BATCH_SIZE, PASSES,
                                                                            torch.get_num_threads())
    assert cost.mean_tokens == pytest.approx(sum(map(len, split.input_ids)) / len(split))  # the sample is all 32 rows
    assert cost.seconds > 0
    # the trained model itself was merged on a copy only: still a peft model, with the same predictions
    assert type(model.encoder).__name__.startswith("Peft")
    assert torch.equal(logits(model, split, pad_id), before)


def test_a_4bit_base_merges_to_different_predictions_and_says_by_how_much(tiny_model, dev):
    split, pad_id = dev
    model = trained("qlora", tiny_model)
    cost = measure_inference(model, split, pad_id, CPU, no_autocast)
    assert cost.merged is not None and cost.predictions_equal is False
    assert cost.max_logit_difference > TOLERANCE
    assert cost.merge_note.startswith(f"merging changed the predictions by up to {cost.max_logit_difference:.2g}")
    # the blocks' linear weights are packed 4 bits per weight (plus their constants) instead of 32
    full_precision = trained("lora", tiny_model)
    linear = sum(module.weight.numel() * 4 for name, module in full_precision.named_modules()
                 if isinstance(module, torch.nn.Linear) and "encoder.layer." in name and ".lora_" not in name)
    saved = measure_inference(full_precision, split, pad_id, CPU, no_autocast).as_trained.memory_bytes \
        - cost.as_trained.memory_bytes
    assert 0.75 * linear < saved < 7 / 8 * linear


@pytest.mark.parametrize("name,params,reason", [
    ("adapters", {}, "its trained modules (Bottleneck, WithAdapter) are layers of their own, not peft adapters"),
    ("prompt_tuning", {"num_virtual_tokens": 4}, "4 trained virtual tokens are inputs, not weights"),
    ("bitfit", {}, "nothing to merge: the trained weights are the encoder's own"),
])
def test_what_does_not_merge_is_timed_as_trained_with_its_reason(name, params, reason, tiny_model, dev):
    split, pad_id = dev
    model = trained(name, tiny_model, **params)
    cost = measure_inference(model, split, pad_id, CPU, no_autocast)
    assert cost.merged is None and cost.max_logit_difference is None and cost.predictions_equal is None
    assert cost.merge_note.startswith(reason)
    assert cost.as_trained.latency_ms > 0 and cost.as_trained.throughput > 0
    assert cost.as_trained.memory_bytes == sum(t.numel() * t.element_size()
                                               for t in [*model.parameters(), *model.buffers()])


def test_a_frozen_run_asked_to_measure_records_its_inference_cost(tiny_model, data_dir):
    """The encoder trained nothing (the head learnt from cached features), but is timed whole, as deployed."""
    config = TrainConfig(task="sst2", model=tiny_model, data_dir=data_dir, train_size=32, max_steps=1,
                         measure_inference=True, progress=False, device="cpu")
    result = train(config, get_strategy("frozen", {}))
    cost = result.inference
    assert cost is not None and cost.merged is None and cost.merge_note.startswith("nothing to merge")
    assert cost.examples == 32 and cost.as_trained.latency_ms > 0
    assert cost.seconds > 0
    assert parse(RunResult, json.loads(json.dumps(to_json(result))), "a run record") == result
