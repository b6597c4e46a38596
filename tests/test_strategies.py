"""The classic strategies' own behaviour on a tiny model: the registry's order, LoRA's targets, adapter placement,
LLRD's learning rates, QLoRA's 4-bit base layers, seeding, bad hyperparameters. What every strategy shares
(exactly which parameters train, reloading, export) is tests/test_contract.py."""

from __future__ import annotations

import pytest
import torch

from peftbench.config import TrainConfig
from peftbench.errors import UserError
from peftbench.build import build_model, seed_everything
from strategies import STRATEGIES, get_strategy


def make(strategy_name: str, tiny_model: str, **params):
    strategy = get_strategy(strategy_name, params)
    config = TrainConfig(model=tiny_model, seed=0)
    return strategy, build_model(config, strategy, num_labels=2, total_steps=10)


def test_registry_starts_with_the_seven_classic_strategies():
    from strategies import groups

    assert list(STRATEGIES)[:7] == ["full", "frozen", "lora", "adapters", "llrd", "qlora", "bitfit"]
    assert groups()["classic"] == list(STRATEGIES)[:7]


def test_lora_all_linear_targets_every_linear_layer(tiny_model):
    _, model = make("lora", tiny_model, targets="all_linear")
    adapted = {n.split(".lora_A")[0].rsplit(".", 1)[-1] for n, _ in model.named_parameters() if ".lora_A." in n}
    assert adapted == {"query", "key", "value", "dense"}


def test_adapters_placement(tiny_model):
    _, houlsby = make("adapters", tiny_model, placement="houlsby", size=8)
    _, pfeiffer = make("adapters", tiny_model, placement="pfeiffer", size=8)
    sites = lambda m: sorted({n.split(".adapter.")[0] for n, _ in m.named_parameters() if ".adapter." in n})  # noqa: E731
    assert sites(houlsby) == [f"encoder.encoder.layer.{i}.{part}.dense" for i in range(2)
                              for part in ("attention.output", "output")]
    assert sites(pfeiffer) == [f"encoder.encoder.layer.{i}.output.dense" for i in range(2)]
    assert houlsby.encoder.encoder.layer[0].output.dense.adapter.down.out_features == 8


def test_adapters_start_close_to_the_pretrained_function(tiny_model):
    _, plain = make("full", tiny_model)
    _, adapted = make("adapters", tiny_model)
    inputs = {"input_ids": torch.randint(1000, 2000, (2, 5)), "attention_mask": torch.ones(2, 5, dtype=torch.long)}
    plain.eval(), adapted.eval()
    with torch.no_grad():
        difference = (plain.encode(**inputs) - adapted.encode(**inputs)).abs().max()
    assert difference < 1e-3


def test_llrd_learning_rates_per_layer(tiny_model):
    strategy, model = make("llrd", tiny_model, decay=0.5)
    groups = strategy.param_groups(model, 1.0, 0.01)
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    names = dict(model.named_parameters())
    # 2 layers: embeddings at decay^2, layer 0 at decay^1, layer 1 and the head at the base lr
    assert lr_of[id(names["encoder.embeddings.word_embeddings.weight"])] == 0.25
    assert lr_of[id(names["encoder.encoder.layer.0.attention.self.query.weight"])] == 0.5
    assert lr_of[id(names["encoder.encoder.layer.1.output.dense.weight"])] == 1.0
    assert lr_of[id(names["classifier.weight"])] == 1.0
    assert sum(len(g["params"]) for g in groups) == len(names)
    no_decay = {id(p) for g in groups if g["weight_decay"] == 0 for p in g["params"]}
    assert id(names["classifier.bias"]) in no_decay and id(names["classifier.weight"]) not in no_decay


def test_qlora_base_linear_layers_are_4bit(tiny_model):
    import bitsandbytes as bnb

    _, model = make("qlora", tiny_model)
    layer = model.encoder.base_model.model.encoder.layer[0]
    for linear in (layer.attention.self.query.base_layer, layer.attention.self.key, layer.intermediate.dense,
                   layer.output.dense):
        assert isinstance(linear, bnb.nn.Linear4bit)
        assert linear.weight.quant_type == "nf4"
        assert linear.weight.dtype == torch.uint8
    assert isinstance(model.classifier, torch.nn.Linear) and model.classifier.weight.dtype == torch.float32


def test_qlora_counts_parameters_by_logical_size(tiny_model):
    from peftbench.classifier import count_parameters

    _, full = make("full", tiny_model)
    _, quantised = make("qlora", tiny_model)
    lora = sum(p.numel() for n, p in quantised.named_parameters() if "lora_" in n)
    assert count_parameters(quantised)[1] == count_parameters(full)[1] + lora


def test_seeding_before_wrapping_makes_lora_repeatable(tiny_model):
    _, first = make("lora", tiny_model)
    seed_everything(123)  # a different global state must not matter: build_model seeds itself
    _, second = make("lora", tiny_model)
    for (n, a), (_, b) in zip(first.named_parameters(), second.named_parameters()):
        assert torch.equal(a, b), n


@pytest.mark.parametrize("name,params,message", [
    ("lora", {"rank": 0}, "rank=0 is outside"),
    ("lora", {"rank": "two"}, "rank must be an integer"),
    ("llrd", {"decay": 1.5}, "decay=1.5 is outside"),
    ("adapters", {"placement": "middle"}, "placement must be one of houlsby, pfeiffer"),
    ("full", {"rank": 4}, "has no hyperparameter 'rank'"),
])
def test_impossible_hyperparameters_are_rejected(name, params, message):
    with pytest.raises(UserError, match=message):
        get_strategy(name, params)


def test_unknown_strategy():
    with pytest.raises(UserError, match="unknown strategy 'lorax': choose from full, frozen"):
        get_strategy("lorax")
