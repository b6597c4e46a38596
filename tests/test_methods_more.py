"""The strategies added with peft 0.21's newer methods, method by method, on the tiny BERT: what makes each itself
beyond the contract every strategy keeps (tests/test_contract.py): KaSA's regularisers as gradients, the learning
rates each declares for its tensors and the head, weight decay kept off tensors that start as pretrained values or
at 1, BEFT on the value projections, Lily's sharing, TinyLoRA's tying; refusals and bad hyperparameters in one line."""

from __future__ import annotations

import pytest
import torch

from peftbench.build import build_model
from peftbench.config import TrainConfig
from peftbench.errors import UserError
from strategies import get_strategy
from tests.test_cli_train import assert_one_line_error, run_cli

INPUTS = {"input_ids": torch.randint(1000, 2000, (4, 7), generator=torch.Generator().manual_seed(1)),
          "attention_mask": torch.ones(4, 7, dtype=torch.long)}
LABELS = torch.tensor([0, 1, 0, 1])


def make(name: str, tiny_model: str, **params):
    strategy = get_strategy(name, params)
    return strategy, build_model(TrainConfig(model=tiny_model, seed=0), strategy, num_labels=2, total_steps=10)


def rates(strategy, model, lr: float = 1e-2, weight_decay: float = 0.01) -> dict[str, tuple[float, float]]:
    """Trainable parameter name → (learning rate, weight decay) in the strategy's optimiser groups."""
    groups = strategy.param_groups(model, lr, weight_decay)
    of = {id(p): (group["lr"], group["weight_decay"]) for group in groups for p in group["params"]}
    named = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert len(of) == len(named), "every trainable parameter in exactly one group"
    return {n: of[id(p)] for n, p in named.items()}


def test_kasa_regulariser_gradients_equal_adding_pefts_kasa_loss(tiny_model):
    """β‖ΔΣ‖² + γ(‖BᵀB − I‖ + ‖AAᵀ − I‖), summed over layers, as peft's _get_kasa_loss computes it."""
    _, hooked = make("kasa", tiny_model, beta=1e-2, gamma=1e-1, dropout=0.0)
    _, plain = make("kasa", tiny_model, beta=0.0, gamma=0.0, dropout=0.0)
    with torch.no_grad():  # a non-zero ΔΣ, so the β term has a gradient too
        for model in (hooked, plain):
            for name, parameter in model.named_parameters():
                if ".lora_diag." in name:
                    parameter.copy_(torch.linspace(0.1, 0.8, parameter.numel()))
    hooked.eval(), plain.eval()
    torch.nn.functional.cross_entropy(hooked(**INPUTS), LABELS).backward()
    plain_encoder = plain.encoder
    for config in plain_encoder.peft_config.values():
        config.kasa_config.beta, config.kasa_config.gamma = 1e-2, 1e-1
    (torch.nn.functional.cross_entropy(plain(**INPUTS), LABELS) + plain_encoder.base_model._get_kasa_loss()).backward()
    hooked_parameters = dict(hooked.named_parameters())
    compared = 0
    for name, parameter in plain.named_parameters():
        if parameter.requires_grad:
            torch.testing.assert_close(hooked_parameters[name].grad, parameter.grad, rtol=1e-5, atol=1e-7)
            compared += ".lora_" in name
    assert compared == 2 * 2 * 3  # A, B and ΔΣ of query and value in 2 blocks


@pytest.mark.parametrize("name,params,head_lr", [
    ("c3a", {}, 1e-2), ("fourierft", {}, 5e-3), ("waveft", {"head_lr": 1e-3}, 1e-3), ("vblora", {}, 4e-3),
    ("frod", {}, 1e-2),
])
def test_a_method_trained_far_from_a_heads_rate_trains_the_head_at_head_lr(name, params, head_lr, tiny_model):
    strategy, model = make(name, tiny_model, **params)
    got = rates(strategy, model, lr=0.3)
    assert got["classifier.weight"] == (head_lr, 0.01) and got["classifier.bias"] == (head_lr, 0.0)
    assert {rate for n, (rate, _) in got.items() if not n.startswith("classifier.")} <= {0.3, 0.3 * 0.1}


@pytest.mark.parametrize("name,part,ratio", [("vblora", "vblora_vector_bank", "bank_lr_ratio"),
                                             ("frod", "frod_lambda_s_values", "sparse_lr_ratio")])
def test_tensors_trained_at_a_ratio_of_lr(name, part, ratio, tiny_model):
    strategy, model = make(name, tiny_model, **{ratio: 0.25})
    got = rates(strategy, model, lr=0.04)
    assert {got[n][0] for n in got if part in n} == {0.04 * 0.25}
    assert {got[n][0] for n in got if part not in n and not n.startswith("classifier.")} == {0.04}


@pytest.mark.parametrize("name,kept", [
    ("c3a", "c3a_kernel"), ("delora", "delora_lambda"), ("frod", "frod_lambda_l"), ("psoft", "vector_"),
    ("osf", "osf_svd_params"), ("road", "road_alpha"), ("deft", "deft_R"),
])
def test_tensors_starting_as_pretrained_values_or_at_one_get_no_weight_decay(name, kept, tiny_model):
    strategy, model = make(name, tiny_model)
    got = rates(strategy, model)
    assert {decay for n, (_, decay) in got.items() if kept in n} == {0.0}
    assert {decay for n, (_, decay) in got.items() if kept not in n and not n.endswith("bias")} == {0.01}


def test_lorafa_trains_b_through_pefts_optimiser_and_the_head_as_adamw(tiny_model):
    from peft.optimizers.lorafa import LoraFAOptimizer

    strategy, model = make("lorafa", tiny_model)
    optimizer = strategy.make_optimizer(model, 1e-3, 0.01, fused=False)
    assert isinstance(optimizer, LoraFAOptimizer)
    head = [group for group in optimizer.param_groups if any(n.startswith("classifier.") for n in group["names"])]
    assert {(tuple(g["names"]), g["weight_decay"]) for g in head} == {(("classifier.weight",), 0.01),
                                                                      (("classifier.bias",), 0.0)}
    assert not any(p.requires_grad for n, p in model.named_parameters() if ".lora_A." in n)


def test_beft_shifts_the_value_projections_bias_only(tiny_model):
    _, model = make("beft", tiny_model)
    shifted = sorted(n.split(".beft_bias")[0].removeprefix("encoder.base_model.model.")
                     for n, p in model.named_parameters() if p.requires_grad and ".beft_bias." in n)
    assert shifted == [f"encoder.layer.{i}.attention.self.value" for i in range(2)]


def test_lily_shares_a_across_blocks_and_b_across_all_blocks_of_a_kind(tiny_model):
    _, model = make("lily", tiny_model, stride_A=1)  # one A per block now, B still shared
    layers = model.encoder.base_model.model.encoder.layer
    queries = [layer.attention.self.query for layer in layers]
    assert queries[0].lily_A["default"] is not queries[1].lily_A["default"]
    assert queries[0].lily_B["default"] is queries[1].lily_B["default"]
    assert queries[0].lily_B["default"] is not layers[0].attention.self.value.lily_B["default"]


def test_tinylora_weight_tying_shares_one_vector_across_layers(tiny_model):
    _, tied = make("tinylora", tiny_model, weight_tying=1.0)
    vectors = [n for n, p in tied.named_parameters() if p.requires_grad and ".tinylora_v." in n]
    assert len(vectors) == 1


@pytest.mark.parametrize("name,params,message", [
    ("vblora", {"vector_length": 128}, "vblora: vector_length (128) must divide the input and output width of every "
                                       "adapted layer; encoder.layer.0.attention.self.query of BertModel is 64 → 64"),
    ("c3a", {"block_size": 128}, "c3a: block_size (128) must divide the input and output width"),
])
def test_a_size_that_does_not_divide_a_layer_is_refused_in_one_line(name, params, message, tiny_model):
    with pytest.raises(UserError) as refused:
        make(name, tiny_model, **params)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


def test_a_rank_wider_than_a_layer_is_refused_in_one_line():
    """psoft's subspace is the top-rank singular directions of each weight: on 16-wide layers (the tiny Gemma of the
    methods matrix) rank 32 does not exist, and peft's own ValueError was the user's message."""
    from transformers import BertConfig, BertModel

    narrow = BertModel(BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=32, max_position_embeddings=16))
    with pytest.raises(UserError) as refused:
        get_strategy("psoft", {"rank": 32}).peft_config(narrow)
    assert str(refused.value) == ("psoft: rank (32) must not exceed the input or output width of any adapted layer; "
                                  "encoder.layer.0.attention.self.query of BertModel is 16 → 16")
    get_strategy("psoft", {"rank": 16}).peft_config(narrow)  # as wide as the layer: fits


@pytest.mark.parametrize("name,params,message", [
    ("gralora", {"k": 3}, "k must be one of 2, 4, got 3"),
    ("lora_orthogonal", {"rank": 3}, "rank must be one of 2, 4, 8, 16, 32, 64, got 3"),
    ("supertuning", {"sparsity": 1.0}, "sparsity=1.0 is outside its valid range [0.9, 0.999]"),
    ("road", {"variant": "road_3"}, "variant must be one of road_1, road_2, road_4, got 'road_3'"),
    ("osf", {"preserved": 0.1}, "preserved=0.1 is outside its valid range [0.5, 0.98]"),
    ("glora", {"paths_C": "constant"}, "paths_C must be one of lora, vector, none, got 'constant'"),
])
def test_impossible_hyperparameters_are_one_line(name, params, message):
    with pytest.raises(UserError) as error:
        get_strategy(name, params)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_misfit_through_the_cli_exits_2_with_one_line(tmp_path, tiny_model, data_dir):
    process = run_cli("runners.train", "--strategy", "vblora", "--param", "vector_length=128", "--model", tiny_model,
                      "--data-dir", data_dir, "--out", str(tmp_path / "out"), "--quiet")
    assert_one_line_error(process, "vblora: vector_length (128) must divide")


@pytest.mark.parametrize("alpha_ratio", [1.0, 2.0])  # 1: peft's own setting; 2: B carries the scale (peft's does not)
def test_loftq_base_is_4bit_and_with_lora_it_approximates_the_weight_better_than_alone(alpha_ratio, tiny_model):
    _, plain = make("frozen", tiny_model)
    _, model = make("loftq", tiny_model, iterations=2, alpha_ratio=alpha_ratio)
    pretrained = plain.encoder.encoder.layer[0].attention.self.query.weight
    layer = model.encoder.base_model.model.encoder.layer[0].attention.self.query
    quantised = layer.base_layer.weight
    assert all(block.unique().numel() <= 16 for block in quantised.reshape(-1, 64))  # NF4: 16 levels a block
    approximation = quantised + layer.scaling["default"] * layer.lora_B["default"].weight @ layer.lora_A["default"].weight
    assert (pretrained - approximation).norm() < 0.9 * (pretrained - quantised).norm()
