"""The LoRA family beyond LoRA and QLoRA, on the tiny model, method by method: what makes it itself (its scale,
initialisation, learning rates, rank allocation, projections or 4-bit base), and impossible hyperparameters as
one-line user errors (exit code 2 on the command line). What every strategy shares (exactly the expected parameters
train, reloading, export) is tests/test_contract.py."""

from __future__ import annotations

import pytest
import torch

from peftbench.build import build_model
from peftbench.config import TrainConfig
from peftbench.errors import UserError
from peftbench.train import train
from strategies import STRATEGIES, get_strategy, groups
from tests.test_cli_train import assert_one_line_error, run_cli

METHODS = ["dora", "rslora", "pissa", "olora", "loraplus", "adalora", "vera", "qdora"]  # this file's methods
INPUTS = {"input_ids": torch.randint(1000, 2000, (4, 7), generator=torch.Generator().manual_seed(1)),
          "attention_mask": torch.ones(4, 7, dtype=torch.long)}
LABELS = torch.tensor([0, 1, 0, 1])


def make(name: str, tiny_model: str, total_steps: int = 10, **params):
    strategy = get_strategy(name, params)
    return strategy, build_model(TrainConfig(model=tiny_model, seed=0), strategy, num_labels=2, total_steps=total_steps)


def first_query(model):
    return model.encoder.base_model.model.encoder.layer[0].attention.self.query


def test_registry_and_declared_info():
    assert set(METHODS) <= set(STRATEGIES)
    assert set(METHODS) <= set(groups()["lora-family"])
    assert not set(METHODS) & set(groups().get("classic", []))
    for name in METHODS:
        info = STRATEGIES[name].info()
        assert info.family == ("quantised" if name == "qdora" else "reparameterised")
        assert info.step_hook is (name == "adalora")
        assert info.own_optimizer is (name == "loraplus")


@pytest.mark.parametrize("name,params", [
    pytest.param("pissa", {}, id="pissa"),
    pytest.param("pissa", {"svd_iters": 2}, id="pissa-fast-svd"),
    pytest.param("olora", {}, id="olora"),
])
def test_residual_initialisation_moves_part_of_each_weight_into_the_adapter_and_keeps_the_function(
        name, params, tiny_model):
    _, plain = make("lora", tiny_model)  # LoRA starts with B = 0: the pretrained function
    _, model = make(name, tiny_model, **params)
    pretrained, layer = first_query(plain).base_layer.weight, first_query(model)
    residual, a, b = layer.base_layer.weight, layer.lora_A["default"].weight, layer.lora_B["default"].weight
    assert (residual - pretrained).abs().max() > 1e-3 and a.abs().max() > 1e-3 and b.abs().max() > 1e-3
    torch.testing.assert_close(residual + layer.scaling["default"] * b @ a, pretrained, rtol=0, atol=1e-5)
    plain.eval(), model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model.encode(**INPUTS), plain.encode(**INPUTS), rtol=0, atol=1e-4)


# Hyperparameters of the short runs below, where a method's defaults need changing for 6 steps.
RUN_PARAMS = {
    "adalora": {"tinit_ratio": 0.0, "tfinal_ratio": 0.2},  # prune from the first step, fix the ranks for the last
}


@pytest.fixture(scope="module")
def trained_runs(tiny_model, data_dir, tmp_path_factory):
    """name → (RunResult, the model as training left it, output directory), each method trained once."""
    runs = {}

    def run(name: str):
        if name not in runs:
            strategy = get_strategy(name, RUN_PARAMS.get(name))
            captured = {}
            make_optimizer = strategy.make_optimizer

            def capture(model, *args, **kwargs):  # the loop's model, to compare the reloaded one with
                captured["model"] = model
                return make_optimizer(model, *args, **kwargs)

            strategy.make_optimizer = capture
            folder = tmp_path_factory.mktemp(name)
            config = TrainConfig(task="sst2", model=tiny_model, data_dir=data_dir, batch_size=16, epochs=1, lr=5e-3,
                                 progress=False, device="cpu", output_dir=str(folder))
            runs[name] = (train(config, strategy), captured["model"].eval(), folder)
        return runs[name]

    return run


def test_adalora_allocates_ranks_during_training_and_the_saved_masks_carry_them(trained_runs):
    from safetensors.torch import load_file

    _, trained, folder = trained_runs("adalora")
    saved = load_file(str(folder / "trained.safetensors"))
    kept = {n: int(torch.count_nonzero(t)) for n, t in saved.items() if ".lora_E." in n}
    init_rank = get_strategy("adalora").init_rank()
    assert len(kept) == 12  # 2 layers × (query, key, value, attention output, intermediate, output)
    assert sum(kept.values()) <= 8 * len(kept) < init_rank * len(kept)  # pruned to the target budget
    assert min(kept.values()) < init_rank
    pattern = trained.encoder.peft_config["default"].rank_pattern  # peft's record of the final allocation
    assert sorted(sum(mask) for mask in pattern.values()) == sorted(kept.values())


def test_adalora_orthogonality_regulariser_gradient_equals_adding_the_term_to_the_loss(tiny_model):
    weight = 0.5
    _, hooked = make("adalora", tiny_model, orth_reg=weight)
    _, plain = make("adalora", tiny_model, orth_reg=0.0)
    hooked.eval(), plain.eval()  # no dropout: both compute the same function
    torch.nn.functional.cross_entropy(hooked(**INPUTS), LABELS).backward()
    matrices = [(n, p) for n, p in plain.named_parameters() if ".lora_A." in n or ".lora_B." in n]
    regulariser = sum(torch.linalg.matrix_norm((p @ p.T if ".lora_A." in n else p.T @ p) - torch.eye(p.shape[0] if ".lora_A." in n else p.shape[1]))
                      for n, p in matrices) / len(matrices)
    (torch.nn.functional.cross_entropy(plain(**INPUTS), LABELS) + weight * regulariser).backward()
    hooked_grads = dict(hooked.named_parameters())
    for name, parameter in plain.named_parameters():
        if parameter.requires_grad:
            torch.testing.assert_close(hooked_grads[name].grad, parameter.grad, rtol=1e-5, atol=1e-7)


def test_loraplus_trains_b_faster_than_a_and_the_head_at_the_base_rate(tiny_model):
    strategy, model = make("loraplus", tiny_model, lr_ratio=8.0)
    optimizer = strategy.make_optimizer(model, 1e-3, 0.01, fused=True)
    assert type(optimizer) is torch.optim.AdamW and all(group["fused"] for group in optimizer.param_groups)
    group_of = {id(p): group for group in optimizer.param_groups for p in group["params"]}
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert len(group_of) == sum(len(g["params"]) for g in optimizer.param_groups) == len(trainable)
    lr = {n: group_of[id(p)]["lr"] for n, p in trainable.items()}
    assert {lr[n] for n in lr if ".lora_A." in n} == {1e-3}
    assert {lr[n] for n in lr if ".lora_B." in n} == {8e-3}
    assert lr["classifier.weight"] == lr["classifier.bias"] == 1e-3
    assert group_of[id(trainable["classifier.bias"])]["weight_decay"] == 0.0
    assert group_of[id(trainable["classifier.weight"])]["weight_decay"] == 0.01


@pytest.mark.parametrize("name,kept", [
    ("dora", ".lora_magnitude_vector."),
    ("pissa", ".lora_"),
    ("olora", ".lora_"),
])
def test_tensors_holding_pretrained_weights_get_no_weight_decay(name, kept, tiny_model):
    strategy, model = make(name, tiny_model)
    decay = {id(p): g["weight_decay"] for g in strategy.param_groups(model, 1e-3, 0.01) for p in g["params"]}
    names = {n: decay[id(p)] for n, p in model.named_parameters() if p.requires_grad}
    assert {d for n, d in names.items() if kept in n} == {0.0}
    assert {d for n, d in names.items() if kept not in n and "classifier.bias" not in n} == {0.01}


def test_dora_magnitudes_start_at_the_row_norms_of_the_pretrained_weights(tiny_model):
    query = first_query(make("dora", tiny_model)[1])
    torch.testing.assert_close(query.lora_magnitude_vector["default"].weight, query.base_layer.weight.norm(dim=1))


def test_rslora_scales_by_alpha_over_the_square_root_of_the_rank(tiny_model):
    _, model = make("rslora", tiny_model, rank=16, alpha=8.0)
    assert first_query(model).scaling["default"] == pytest.approx(8.0 / 4.0)


def test_vera_layers_share_one_frozen_random_projection(tiny_model):
    _, model = make("vera", tiny_model, rank=32, targets="all_linear")
    layers = [m for m in model.encoder.modules() if hasattr(m, "vera_lambda_b")]
    assert len(layers) == 12  # all linear layers of 2 blocks, of three different shapes
    assert len({id(m.vera_A["default"]) for m in layers}) == 1
    assert not any(m.vera_lambda_b["default"].detach().any() for m in layers)  # b = 0: the pretrained function


def test_qdora_is_dora_on_4bit_nf4_layers(tiny_model):
    import bitsandbytes as bnb

    _, model = make("qdora", tiny_model)
    query = first_query(model)
    assert isinstance(query.base_layer, bnb.nn.Linear4bit) and query.base_layer.weight.quant_type == "nf4"
    assert "default" in query.lora_magnitude_vector


@pytest.mark.parametrize("name,params,message", [
    ("dora", {"rank": 0}, "rank=0 is outside its valid range [1, 64]"),
    ("rslora", {"alpha_ratio": 2.0}, "strategy rslora has no hyperparameter 'alpha_ratio' (it has: rank, alpha,"),
    ("rslora", {"alpha": 0.0}, "alpha=0.0 is outside its valid range"),
    ("pissa", {"svd_iters": -1}, "svd_iters=-1 is outside its valid range"),
    ("olora", {"dropout": "lots"}, "dropout must be a number, got 'lots'"),
    ("loraplus", {"lr_ratio": 0.5}, "lr_ratio=0.5 is outside its valid range [1.0, 64.0]"),
    ("adalora", {"init_ratio": 1.0}, "init_ratio=1.0 is outside its valid range"),
    ("adalora", {"tfinal_ratio": 0.9}, "tfinal_ratio=0.9 is outside its valid range"),
    ("vera", {"targets": "mlp"}, "targets must be one of attention, all_linear, got 'mlp'"),
    ("qdora", {"double_quant": "maybe"}, "double_quant must be one of True, False, got 'maybe'"),
])
def test_impossible_hyperparameters_are_one_line_user_errors(name, params, message):
    with pytest.raises(UserError) as error:
        get_strategy(name, params)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_adalora_refuses_a_run_too_short_to_allocate_ranks(tiny_model):
    with pytest.raises(UserError, match="adalora needs at least 2 optimiser steps"):
        make("adalora", tiny_model, total_steps=1)


def test_bad_hyperparameter_on_the_command_line_exits_2_with_one_line(tmp_path, tiny_model, data_dir):
    process = run_cli("runners.train", "--strategy", "dora", "--param", "rank=0", "--model", tiny_model,
                      "--data-dir", data_dir, "--out", str(tmp_path / "out"), "--quiet")
    assert_one_line_error(process, "rank=0 is outside its valid range")
    assert not (tmp_path / "out").exists()
