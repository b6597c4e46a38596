"""Any model a user brings: the seven classic strategies on tiny random models of 16 real architectures.

Strategies find blocks, attention projections, feed-forward outputs, embeddings and biases from a model's
structure (``peftbench.architecture``), not from BERT's layer names, so every family has to be exercised: GPT-2's
fused ``c_attn`` Conv1D, ModernBERT's bias-free fused ``Wqkv``, Phi-3's ``qkv_proj``, ALBERT's one shared
layer, ELECTRA's and ALBERT's embedding projections, bias-free Llama-style decoders, pad-less tokenizers.
Each test is parametrised by family (and strategy), so a failure names the cell that broke:

- the real CLI trains every family x strategy cell, or refuses exactly the two impossible kinds of cell
  (BitFit without biases, LLRD on shared layers) with one clear line;
- exactly the expected parameters train, and one optimiser step changes them and only them;
- LLRD's L + 1 learning rates, adapter placement, LoRA's targets (fused projections included);
- decoders pool their last real token whichever side the padding is on;
- saved weights reload to identical predictions; gradient checkpointing trains.

Every family is built once per session and built models are cached across tests; the file takes about
30 CPU-seconds (under a minute on two idle cores), most of it the 112 CLI runs.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import io
import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from peftbench.architecture import find_architecture
from peftbench.config import TrainConfig
from peftbench.errors import UserError
from peftbench.models import load_encoder, load_tokenizer
from strategies import get_strategy, load_trained
from strategies.adapters import WithAdapter
from tests.conftest import sst2_dir
from tests.fixtures.families import DECODERS, FAMILIES, build_family, has_bias, is_decoder

from peftbench.build import build_model

CLASSIC = ("full", "frozen", "lora", "adapters", "llrd", "qlora", "bitfit")
SENTENCES = ["a great film", "boring and long, i would not recommend this to anyone",
             "the acting was dull", "It's a small film about big feelings."]
BLOCK_FREE = {"full", "llrd"}  # strategies under which every parameter trains
HEAD = 64 * 2 + 2  # the classifier's parameters: every family's hidden size is 64, and sst2 has two labels


# ---------------------------------------------------------------- fixtures: each family built once


@pytest.fixture(scope="session")
def family_dirs(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("families")
    return {name: build_family(name, root) for name in FAMILIES}


@pytest.fixture(scope="session")
def toy_sst2(tmp_path_factory) -> str:
    """24 training rows: with --batch-size 8 an epoch is 3 steps, so --max-steps 2 must stop it."""
    return sst2_dir(tmp_path_factory.mktemp("toy-glue"), 24)


@pytest.fixture(scope="module", autouse=True)
def frozen_import_heap(family_dirs):
    """Freeze the objects the imports created, as the CLI's entry point does (``peftbench.cli.run_main``): the
    full ``gc.collect()`` after every run otherwise walks them each time (~0.5 s a run, most of this file)."""
    import bitsandbytes  # noqa: F401  (imported here, before the freeze, rather than inside the first run)
    import peft  # noqa: F401

    import peftbench.train  # noqa: F401

    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()
    _BUILT.clear()
    tokenizer_of.cache_clear()
    plain_encoder.cache_clear()


@functools.cache
def tokenizer_of(directory: str):
    return load_tokenizer(directory)


@functools.cache
def plain_encoder(directory: str) -> nn.Module:
    """The family's bare encoder as loaded from disk, for reading its structure (never trained)."""
    return load_encoder(directory)


_BUILT: dict[tuple, tuple] = {}


def built(directory: str, strategy_name: str, **params):
    """(strategy, model) built through ``build_model`` as a run does; cached, since building is most of
    the cost. Tests only read structure from a cached model, or step it (weights, not structure, change)."""
    key = (directory, strategy_name, tuple(sorted(params.items())))
    if key not in _BUILT:
        strategy = get_strategy(strategy_name, params)
        _BUILT[key] = strategy, build_model(TrainConfig(model=directory, seed=0), strategy, num_labels=2,
                                            total_steps=10)
    return _BUILT[key]


def model_class(directory: str) -> str:
    return json.loads((Path(directory) / "config.json").read_text())["architectures"][0]


def refusal(family: str, strategy: str) -> str | None:
    """The one-line refusal a cell must end in (a regex), or None if it must train."""
    if strategy == "bitfit" and not has_bias(family):
        return "no bias terms"
    if strategy == "llrd" and family == "albert":
        return r"shares one set of weights across its \d+ layers"
    return None


def batch(directory: str, texts=SENTENCES) -> dict[str, torch.Tensor]:
    """Model inputs for ``texts`` from the family's own tokenizer, right-padded."""
    encoded = tokenizer_of(directory)(list(texts), padding=True, return_tensors="pt")
    return dict(encoded)


def run_cli(*args: str) -> int:
    """``python -m runners.train`` in-process; UserError (the CLI's exit-2 path) propagates."""
    from runners.train import main

    with contextlib.redirect_stdout(io.StringIO()):
        return main(["--max-steps", "2", "--batch-size", "8", "--max-length", "32", "--quiet", "--device", "cpu",
                     *args])


def lora_modules(model) -> set[str]:
    """Paths (relative to the bare encoder) of the modules that carry LoRA weights."""
    prefix = "encoder.base_model.model."
    return {n.split(".lora_A.")[0].removeprefix(prefix) for n, _ in model.named_parameters() if ".lora_A." in n}


def block_linears(encoder: nn.Module) -> set[str]:
    """Every linear layer (nn.Linear or GPT-2's Conv1D) inside the block stack, found independently."""
    prefix = find_architecture(encoder).blocks_path + "."
    return {p for p, m in encoder.named_modules()
            if p.startswith(prefix) and (isinstance(m, nn.Linear) or type(m).__name__ == "Conv1D")}


def attention_paths(encoder: nn.Module) -> list[str]:
    """The outermost attention module of every block (by class name, as transformers names them)."""
    arch = find_architecture(encoder)
    found = []
    for block in arch.blocks:
        module = encoder.get_submodule(block.path)
        found.append(next(f"{block.path}.{p}" for p, m in module.named_modules()
                          if p and "attention" in type(m).__name__.lower()))
    return found


# ---------------------------------------------------------------- 1. the matrix through the real CLI


@pytest.mark.parametrize("strategy", CLASSIC)
@pytest.mark.parametrize("family", FAMILIES)
def test_cli_trains_every_family_with_every_strategy_or_refuses_in_one_line(family, strategy, family_dirs,
                                                                            toy_sst2, tmp_path):
    directory, out = family_dirs[family], tmp_path / "run"
    args = ["--task", "sst2", "--data-dir", toy_sst2, "--model", directory, "--strategy", strategy, "--out", str(out)]
    expected_refusal = refusal(family, strategy)
    if expected_refusal:
        with pytest.raises(UserError) as error:
            run_cli(*args)
        message = str(error.value)
        assert "\n" not in message
        assert model_class(directory) in message and re.search(expected_refusal, message), message
        assert not (out / "result.json").exists()
        return

    assert run_cli(*args) == 0
    record = json.loads((out / "result.json").read_text())
    assert (record["task"], record["model"], record["strategy"], record["steps"]) == ("sst2", directory, strategy, 2)
    assert record["train_samples_seen"] == 16
    assert 0.0 <= record["metrics"]["dev"]["accuracy"] <= 1.0
    assert record["hyperparameters"]["pooling"] == ("last" if is_decoder(family) else "mean")
    assert (out / "trained.safetensors").is_file()
    trainable, total = record["trainable_params"], record["total_params"]
    if strategy in BLOCK_FREE:
        assert trainable == total
    elif strategy == "frozen":
        assert trainable == HEAD
    else:
        assert HEAD < trainable < total


@pytest.mark.parametrize("family", ["bert", "roberta", "gpt2", "llama"])
def test_cli_trains_sentence_pairs(family, family_dirs, data_dir, tmp_path):
    out = tmp_path / "run"
    assert run_cli("--task", "rte", "--data-dir", data_dir, "--model", family_dirs[family], "--strategy", "lora",
                   "--out", str(out)) == 0
    record = json.loads((out / "result.json").read_text())
    assert (record["task"], record["steps"]) == ("rte", 2)
    assert 0.0 <= record["metrics"]["dev"]["accuracy"] <= 1.0


# ---------------------------------------------------------------- 2. exactly the expected parameters train


def expected_trainable(strategy: str, model) -> set[str]:
    """The parameter names ``strategy`` must train, from the model's structure and the strategy's definition."""
    names = [n for n, _ in model.named_parameters()]
    head = {n for n in names if n.startswith("classifier.")}
    if strategy in BLOCK_FREE:
        return set(names)
    if strategy == "frozen":
        return head
    if strategy == "bitfit":
        return head | {n for n in names if n.rsplit(".", 1)[-1] == "bias"}
    if strategy in ("lora", "qlora"):
        return head | {n for n in names if ".lora_A." in n or ".lora_B." in n}
    if strategy == "adapters":
        norms = {f"{path}.{p}" for path, module in model.named_modules() if "norm" in type(module).__name__.lower()
                 for p, _ in module.named_parameters(recurse=False)}
        return head | norms | {n for n in names if ".adapter." in n}
    raise AssertionError(strategy)


@pytest.mark.parametrize("strategy", CLASSIC)
@pytest.mark.parametrize("family", FAMILIES)
def test_exactly_the_expected_parameters_train_and_one_step_changes_only_them(family, strategy, family_dirs):
    directory = family_dirs[family]
    if refusal(family, strategy):
        with pytest.raises(UserError, match=refusal(family, strategy)):
            built(directory, strategy)
        return
    strategy_object, model = built(directory, strategy)
    parameters = dict(model.named_parameters())
    trainable = {n for n, p in parameters.items() if p.requires_grad}
    assert trainable == expected_trainable(strategy, model)
    assert any(not n.startswith("classifier.") for n in trainable) or strategy == "frozen"
    if strategy in ("lora", "qlora", "adapters"):  # every block gets its share of the new weights
        names = " ".join(n for n in trainable if ".lora_" in n or ".adapter." in n)
        for block in find_architecture(plain_encoder(directory)).blocks:
            assert f".{block.path}." in names, block.path

    model.train()
    before = {n: p.detach().clone() for n, p in parameters.items()}
    optimizer = strategy_object.make_optimizer(model, 1e-2, 0.01, fused=False)
    torch.manual_seed(1)
    loss = nn.functional.cross_entropy(model(**batch(directory)), torch.tensor([0, 1, 0, 1]))
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    assert sorted(n for n in trainable if torch.equal(before[n], parameters[n])) == [], "trainable but unchanged"
    assert sorted(n for n in parameters.keys() - trainable if not torch.equal(before[n], parameters[n])) == [], \
        "frozen but changed"


@pytest.mark.parametrize("family", FAMILIES)
def test_qlora_quantises_every_linear_layer_of_the_blocks_to_4bit(family, family_dirs):
    import bitsandbytes as bnb

    directory = family_dirs[family]
    _, model = built(directory, "qlora")
    base = model.encoder.get_base_model()
    quantised = {p.removesuffix(".base_layer") for p, m in base.named_modules() if isinstance(m, bnb.nn.Linear4bit)}
    assert quantised >= block_linears(plain_encoder(directory))
    assert model.classifier.weight.dtype == torch.float32


# ---------------------------------------------------------------- 3. LLRD: L + 1 rates, embeddings lowest


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "albert"])
def test_llrd_gives_each_block_its_own_rate_embeddings_lowest_head_at_base(family, family_dirs):
    strategy, model = built(family_dirs[family], "llrd")
    groups = strategy.param_groups(model, 1.0, 0.01)
    rate = {id(p): g["lr"] for g in groups for p in g["params"]}
    assert sum(len(g["params"]) for g in groups) == len(rate) == len(list(model.parameters()))

    blocks = find_architecture(model.encoder).blocks
    assert len({g["lr"] for g in groups}) == len(blocks) + 1
    embeddings = rate[id(model.encoder.get_input_embeddings().weight)]
    assert embeddings == min(rate.values())
    per_block = [rate[id(next(model.encoder.get_submodule(block.path).parameters()))] for block in blocks]
    assert all(low < high for low, high in zip([embeddings, *per_block], per_block)), per_block
    assert rate[id(model.classifier.weight)] == 1.0 == max(rate.values())


# ---------------------------------------------------------------- 4. adapters: Houlsby 2 per block, Pfeiffer 1


@pytest.mark.parametrize("placement,per_block,in_attention", [("houlsby", 2, 1), ("pfeiffer", 1, 0)])
@pytest.mark.parametrize("family", FAMILIES)
def test_adapters_sit_after_attention_and_feed_forward_outputs(family, placement, per_block, in_attention,
                                                               family_dirs):
    directory = family_dirs[family]
    params = {} if placement == "houlsby" else {"placement": placement}  # houlsby: the default, already built
    _, model = built(directory, "adapters", **params)
    encoder = model.encoder
    wrapped = [p for p, m in encoder.named_modules() if isinstance(m, WithAdapter)]
    blocks = find_architecture(plain_encoder(directory)).blocks
    assert len(wrapped) == per_block * len(blocks)
    for block, attention in zip(blocks, attention_paths(plain_encoder(directory))):
        assert sum(p.startswith(block.path + ".") for p in wrapped) == per_block, block.path
        assert sum(p.startswith(attention + ".") for p in wrapped) == in_attention, block.path


# ---------------------------------------------------------------- 5. LoRA finds its targets in every family


@pytest.mark.parametrize("family", FAMILIES)
def test_lora_attention_and_all_linear_targets_are_found(family, family_dirs):
    directory = family_dirs[family]
    plain = plain_encoder(directory)
    attention = lora_modules(built(directory, "lora")[1])
    all_linear = lora_modules(built(directory, "lora", targets="all_linear")[1])
    assert all_linear == block_linears(plain)
    assert attention and attention < all_linear
    attentions = attention_paths(plain)
    assert all(any(p.startswith(a + ".") for a in attentions) for p in attention), attention
    assert all(any(p.startswith(a + ".") for p in attention) for a in attentions), "a block without LoRA"


@pytest.mark.parametrize("family,fused", [("gpt2", "c_attn"), ("modernbert", "Wqkv"), ("phi3", "qkv_proj")])
def test_lora_adapts_the_fused_attention_projection(family, fused, family_dirs):
    directory = family_dirs[family]
    adapted = lora_modules(built(directory, "lora")[1])
    for attention in attention_paths(plain_encoder(directory)):
        assert f"{attention}.{fused}" in adapted, adapted


# ---------------------------------------------------------------- 6. pooling: decoders use their last real token


@pytest.mark.parametrize("family", FAMILIES)
def test_default_pooling_is_last_token_for_decoders_and_mean_for_encoders(family, family_dirs):
    _, model = built(family_dirs[family], "full")
    assert TrainConfig().pooling == "auto"
    assert model.pooling == ("last" if family in DECODERS else "mean")


@pytest.mark.parametrize("family", DECODERS)
def test_cls_pooling_is_refused_for_decoders(family, family_dirs, toy_sst2, tmp_path):
    with pytest.raises(UserError) as error:
        run_cli("--task", "sst2", "--data-dir", toy_sst2, "--model", family_dirs[family], "--strategy", "frozen",
                "--pooling", "cls", "--out", str(tmp_path / "run"))
    message = str(error.value)
    assert "\n" not in message and "--pooling cls" in message and model_class(family_dirs[family]) in message


def test_cls_pooling_is_allowed_for_an_encoder(family_dirs):
    model = build_model(TrainConfig(model=family_dirs["bert"], pooling="cls"), get_strategy("frozen"), 2, 10)
    assert model.pooling == "cls"


def padding_cases(directory: str) -> dict[str, dict[str, torch.Tensor]]:
    """A short sentence alone, and as the first row of a batch with a longer one, padded right (by the
    tokenizer) and left (by hand, as a left-padding tokenizer would)."""
    tokenizer = tokenizer_of(directory)
    ids, long = tokenizer(SENTENCES[0])["input_ids"], tokenizer(SENTENCES[1])["input_ids"]
    pad = [tokenizer.pad_token_id] * (len(long) - len(ids))
    assert len(pad) > 2
    right = batch(directory, SENTENCES[:2])
    assert right["attention_mask"][0].tolist() == [1] * len(ids) + [0] * len(pad)
    return {
        "alone": {"input_ids": torch.tensor([ids]), "attention_mask": torch.ones(1, len(ids), dtype=torch.long)},
        "right": right,
        "left": {"input_ids": torch.tensor([pad + ids, long]),
                 "attention_mask": torch.tensor([[0] * len(pad) + [1] * len(ids), [1] * len(long)])},
    }


def pooled(directory: str, case: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(the short sentence's pooled features in ``case``, the same alone), from an eval-mode model."""
    _, model = built(directory, "frozen")
    model.eval()
    cases = padding_cases(directory)
    with torch.no_grad():
        return model.encode(**cases[case])[0], model.encode(**cases["alone"])[0]


@pytest.mark.parametrize("family", FAMILIES)
def test_pooled_features_are_the_same_alone_and_in_a_right_padded_batch(family, family_dirs):
    in_batch, alone = pooled(family_dirs[family], "right")
    torch.testing.assert_close(in_batch, alone, rtol=0, atol=1e-5)


@pytest.mark.parametrize("case", ["alone", "right", "left"])
@pytest.mark.parametrize("family", DECODERS)
def test_last_token_pooling_reads_the_hidden_state_of_the_last_real_token(family, case, family_dirs):
    directory = family_dirs[family]
    _, model = built(directory, "frozen")
    model.eval()
    inputs = padding_cases(directory)[case]
    last = int(inputs["attention_mask"][0].nonzero().max())
    with torch.no_grad():
        features = model.encode(**inputs)[0]
        positions = (inputs["attention_mask"].cumsum(-1) - 1).clamp(min=0)  # real tokens count from 0
        hidden = model.encoder(**inputs, position_ids=positions).last_hidden_state[0, last]
    torch.testing.assert_close(features, hidden, rtol=0, atol=0)


@pytest.mark.parametrize("family", DECODERS)  # GPT-2's learned absolute positions included: ids come from the mask
def test_last_token_pooling_is_the_same_alone_and_in_a_left_padded_batch(family, family_dirs):
    in_batch, alone = pooled(family_dirs[family], "left")
    torch.testing.assert_close(in_batch, alone, rtol=0, atol=1e-5)


# ---------------------------------------------------------------- 7. saved weights reload to the same predictions


def keep_built_models(monkeypatch) -> list:
    """Every model the training loop builds, appended as built (the loop keeps training that same object)."""
    import peftbench.train

    models, build = [], peftbench.train.build_model
    monkeypatch.setattr(peftbench.train, "build_model", lambda *a, **k: models.append(build(*a, **k)) or models[-1])
    return models


@pytest.mark.parametrize("family,strategy", [("llama", "lora"), ("roberta", "adapters"), ("gpt2", "qlora"),
                                             ("deberta-v2", "bitfit")])
def test_saved_weights_reload_to_identical_predictions(family, strategy, family_dirs, toy_sst2, tmp_path,
                                                       monkeypatch):
    from peftbench.train import train

    directory, out = family_dirs[family], tmp_path / "run"
    models = keep_built_models(monkeypatch)
    config = TrainConfig(task="sst2", data_dir=toy_sst2, model=directory, max_steps=2, batch_size=8, max_length=32,
                         device="cpu", progress=False, output_dir=str(out))
    assert train(config, get_strategy(strategy)).steps == 2
    trained = models[0].eval()  # evaluated once, at the last step: the saved weights are the final ones

    reloaded, tokenizer, saved_config = load_trained(str(out))
    assert saved_config.model == directory and reloaded.pooling == trained.pooling and not reloaded.training
    untrained = build_model(saved_config, get_strategy(strategy), 2, 10).eval()
    inputs = dict(tokenizer(SENTENCES, padding=True, return_tensors="pt"))
    with torch.no_grad():
        expected = trained(**inputs)
        torch.testing.assert_close(reloaded(**inputs), expected, rtol=0, atol=0)
        assert not torch.equal(untrained(**inputs), expected), "training changed nothing, so reloading proves nothing"


# ---------------------------------------------------------------- 8. gradient checkpointing


@pytest.mark.parametrize("strategy", ["full", "lora"])
@pytest.mark.parametrize("family", ["bert", "gpt2"])
def test_gradient_checkpointing_trains_and_is_recorded(family, strategy, family_dirs, toy_sst2, tmp_path,
                                                       monkeypatch):
    models = keep_built_models(monkeypatch)
    out = tmp_path / "run"
    assert run_cli("--task", "sst2", "--data-dir", toy_sst2, "--model", family_dirs[family], "--strategy", strategy,
                   "--gradient-checkpointing", "--out", str(out)) == 0
    record = json.loads((out / "result.json").read_text())
    assert record["steps"] == 2 and record["hyperparameters"]["gradient_checkpointing"] is True
    encoder = models[0].encoder
    base = encoder.get_base_model() if hasattr(encoder, "get_base_model") else encoder
    assert base.is_gradient_checkpointing


def test_a_comparison_refuses_a_strategy_the_model_cannot_take_before_writing_anything(family_dirs, toy_sst2,
                                                                                       tmp_path):
    """BitFit on a bias-free Llama is bad input for the whole comparison: one line naming the strategy and
    what the model lacks, and no --out directory, before any other strategy has trained."""
    from runners.compare import main as compare

    out = tmp_path / "run"
    with pytest.raises(UserError) as refused:
        compare(["--task", "sst2", "--data-dir", toy_sst2, "--model", family_dirs["llama"], "--preset", "smoke",
                 "--train-size", "16", "--carve-size", "4",
                 "--strategies", "full,bitfit", "--quiet", "--out", str(out)])
    message = str(refused.value)
    assert "\n" not in message and message.startswith("bitfit: this model (LlamaModel) has no bias terms")
    assert message.endswith("leave bitfit out of --strategies")
    assert not out.exists()
