"""The peft methods beyond the LoRA family (reparameterisations, (IA)³, LN tuning, prompt methods) on the tiny
BERT, method by method: registered with its family, bad hyperparameters are one clear line, BOFT's butterfly
factors on CPU, block sizes that fit; for the prompt methods, the mask is extended over the virtual tokens,
padding never changes a prediction, and runs on sentence pairs reload identically. What every strategy shares
(exactly the expected parameters train, reloading, export, GPT-2) is tests/test_contract.py."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from peftbench.config import TrainConfig
from peftbench.data import collate, encode_split
from peftbench.errors import UserError
from peftbench.tasks import TaskRequest, load_task
from peftbench.train import build_model, train  # build_model: wherever the core keeps it
from strategies import STRATEGIES, get_strategy, load_trained

ROOT = Path(__file__).resolve().parent.parent
# Per method: its family.
EXPECTED = {"loha": "reparameterised", "lokr": "reparameterised", "oft": "reparameterised", "boft": "reparameterised",
            "hra": "reparameterised", "ia3": "additive", "ln_tuning": "selective", "prompt_tuning": "prompt",
            "prefix_tuning": "prompt", "p_tuning": "prompt"}
PROMPT = [name for name, family in EXPECTED.items() if family == "prompt"]


def build(name: str, tiny_model: str, **params):
    strategy = get_strategy(name, params)
    return strategy, build_model(TrainConfig(model=tiny_model, seed=0), strategy, 2, 10)


def batch(pairs: bool = True) -> dict[str, torch.Tensor]:
    """Four rows of different lengths, right-padded, as the core's collate makes them."""
    torch.manual_seed(1)
    lengths = [7, 5, 3, 6]
    ids = torch.zeros(4, 7, dtype=torch.long)
    mask = torch.zeros(4, 7, dtype=torch.long)
    types = torch.zeros(4, 7, dtype=torch.long)
    for row, n in enumerate(lengths):
        ids[row, :n] = torch.randint(1000, 2000, (n,))
        mask[row, :n] = 1
        types[row, n // 2:n] = 1
    return {"input_ids": ids, "attention_mask": mask, **({"token_type_ids": types} if pairs else {})}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_registered_and_listed_with_its_family(name):
    from runners.common import strategy_listing

    assert STRATEGIES[name].family == EXPECTED[name]
    assert f"  {name} " in strategy_listing()


@pytest.mark.parametrize("name", PROMPT)
def test_prompt_methods_saved_on_sentence_pairs_reload_to_identical_predictions(name, tiny_model, data_dir, tmp_path):
    """On pairs (rte): token_type_ids are extended over the virtual tokens end to end (tests/test_contract.py reloads
    every strategy on single sentences)."""
    task = "rte"
    config = TrainConfig(task=task, model=tiny_model, data_dir=data_dir, batch_size=16, max_steps=3,
                         progress=False, device="cpu", output_dir=str(tmp_path / "run"))
    result = train(config, get_strategy(name))
    saved = load_file(str(tmp_path / "run" / "trained.safetensors"))
    model, tokenizer, _ = load_trained(str(tmp_path / "run"))
    state = dict(model.named_parameters())
    assert set(saved) == {n for n, p in state.items() if p.requires_grad}
    assert all(torch.equal(saved[n], state[n]) for n in saved)
    data = load_task(TaskRequest(task, data_dir))
    split = encode_split(data.dev, data.spec, tokenizer, 128)
    inputs, labels = collate(split, list(range(len(split))), tokenizer.pad_token_id)
    with torch.no_grad():
        logits = model(**inputs)
        again = model(**inputs)
    assert torch.equal(logits, again)
    accuracy = (logits.argmax(-1) == labels).float().mean().item()
    assert math.isclose(accuracy, result.metrics["dev"]["accuracy"], abs_tol=1e-9)


@pytest.mark.parametrize("name", PROMPT)
def test_prompt_methods_extend_the_mask_and_ignore_padding(name, tiny_model):
    _, model = build(name, tiny_model)
    model.eval()
    seen = {}
    model.encoder.base.register_forward_pre_hook(lambda module, args, kwargs: seen.update(kwargs), with_kwargs=True)
    inputs = batch()
    with torch.no_grad():
        together = model(**inputs)
        alone = [model(**{k: v[row:row + 1, :int(inputs["attention_mask"][row].sum())] for k, v in inputs.items()})
                 for row in range(4)]
    virtual = model.encoder.num_virtual_tokens
    assert seen["attention_mask"].shape == (1, virtual + 6)  # the last call: row 3, six real tokens
    assert seen["attention_mask"][:, :virtual].eq(1).all() and seen["attention_mask"][:, virtual:].eq(1).all()
    if name == "prefix_tuning":  # the prefix is no input position: ids and types keep their length
        assert seen["input_ids"].shape == (1, 6) and seen["token_type_ids"].shape == (1, 6)
    else:
        assert seen["inputs_embeds"].shape[:2] == (1, virtual + 6)
        assert seen["token_type_ids"].tolist() == [[0] * virtual + [0, 0, 0, 1, 1, 1]]
    assert torch.allclose(together, torch.cat(alone), rtol=0, atol=1e-5)


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    """A tiny random model of another family (tests/fixtures/families.py), built on first use."""
    from tests.fixtures.families import build_family

    root = tmp_path_factory.mktemp("families")
    return lambda name: build_family(name, root)


@pytest.mark.parametrize("name", PROMPT)
def test_prompt_methods_on_a_causal_decoder_ignore_padding_on_either_side(name, family):
    """GPT-2 pools its last real token and takes position ids counted from the mask: both move past the prompt."""
    _, model = build(name, family("gpt2"))
    model.eval()
    torch.manual_seed(1)
    rows = [torch.randint(5, 60, (n,)) for n in (7, 4, 2)]
    with torch.no_grad():
        alone = torch.cat([model(input_ids=row[None], attention_mask=torch.ones(1, len(row), dtype=torch.long))
                           for row in rows])
        for left in (False, True):
            ids, mask = torch.zeros(3, 7, dtype=torch.long), torch.zeros(3, 7, dtype=torch.long)
            for i, row in enumerate(rows):
                span = slice(7 - len(row), 7) if left else slice(0, len(row))
                ids[i, span], mask[i, span] = row, 1
            assert torch.allclose(model(input_ids=ids, attention_mask=mask), alone, rtol=0, atol=1e-5)


def test_more_virtual_tokens_than_the_model_has_positions_is_one_line(tiny_model):
    _, model = build("prompt_tuning", tiny_model, num_virtual_tokens=100)
    with pytest.raises(UserError, match=r"^prompt_tuning: 100 virtual tokens \+ 40 tokens exceed the model's 128 positions"):
        model(input_ids=torch.randint(1000, 2000, (1, 40)), attention_mask=torch.ones(1, 40, dtype=torch.long))


@pytest.mark.parametrize("model_family", ["distilbert", "deberta-v2"])
def test_prefix_tuning_refuses_a_model_that_takes_no_cache_in_one_line(model_family, family):
    with pytest.raises(UserError, match=r"^prefix_tuning: (DistilBert|DebertaV2)Model.forward takes no key/value cache"):
        build("prefix_tuning", family(model_family))


def test_boft_keeps_its_butterfly_factors_on_cpu(tiny_model):
    """peft needs a CUDA kernel for more than one butterfly factor; ours stands in for it."""
    from strategies.boft import TorchBlockDiag

    _, model = build("boft", tiny_model, butterfly_factor=2)
    shapes = {tuple(p.shape) for n, p in model.named_parameters() if ".boft_R." in n}
    assert shapes == {(2, 8, 8, 8)}  # 2 factors, 64 / 8 blocks of 8 × 8
    blocks = torch.randn(2, 3, 4, 4, requires_grad=True)
    reference = torch.stack([torch.block_diag(*factor) for factor in blocks])
    assert torch.equal(TorchBlockDiag.forward(blocks.detach())[0], reference)
    grad = torch.randn_like(reference)
    reference.backward(grad)
    assert torch.equal(TorchBlockDiag.backward(grad, blocks.detach())[0], blocks.grad)


@pytest.mark.parametrize("name,params,message", [
    ("loha", {"rank": "0"}, "rank=0 is outside its valid range [1, 64]"),
    ("lokr", {"factor": "3"}, "factor must be one of -1, 2, 4, 8, 16, 32, got '3'"),
    ("oft", {"block_size": "24"}, "block_size must be one of 4, 8, 16, 32, 64, got '24'"),
    ("boft", {"butterfly_factor": "9"}, "butterfly_factor=9 is outside its valid range [1, 3]"),
    ("hra", {"rank": "3"}, "rank must be one of 2, 4, 6, 8, 12, 16, 24, 32, got '3'"),
    ("ia3", {"rank": "4"}, "strategy ia3 has no hyperparameter 'rank' (it has: none)"),
    ("ln_tuning", {"targets": "attention"}, "strategy ln_tuning has no hyperparameter 'targets'"),
    ("prompt_tuning", {"num_virtual_tokens": "0"}, "num_virtual_tokens=0 is outside its valid range [1, 100]"),
    ("p_tuning", {"encoder": "gru"}, "encoder must be one of lstm, mlp, got 'gru'"),
    ("prefix_tuning", {"projection": "maybe"}, "projection must be one of False, True, got 'maybe'"),
])
def test_impossible_hyperparameters_are_one_clear_line(name, params, message):
    with pytest.raises(UserError) as error:
        get_strategy(name, params)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_every_block_size_a_search_can_draw_fits_and_a_misfit_is_one_line(tiny_model):
    """The largest OFT block and BOFT tile the ranges allow build on the tiny BERT (widths 64 and 128); a width
    a block does not tile is refused in one line before peft sees it (peft would change OFT's size silently)."""
    from strategies.oft import check_blocks

    build("oft", tiny_model, block_size=64, targets="all_linear")
    build("boft", tiny_model, block_size=16, butterfly_factor=3, targets="all_linear")
    with pytest.raises(UserError) as error:
        check_blocks("boft", [64, 96], 64, "block_size × 2^(butterfly_factor-1)")
    assert str(error.value) == ("boft: block_size × 2^(butterfly_factor-1) (64) must divide the input width of every "
                                "adapted layer (64, 96); 96 is not a multiple of 64")


@pytest.mark.parametrize("name,param,gpt2,message", [
    ("loha", "rank=0", False, "rank=0 is outside its valid range"),
    ("hra", "rank=8", True, "hra: peft implements it for nn.Linear layers only, and h.0.attn.c_attn of GPT2Model"),
])
def test_bad_method_hyperparameters_through_the_cli(name, param, gpt2, message, tiny_model, family, data_dir, tmp_path):
    """A value out of range, and a model the method cannot adapt (found when the model is built): exit 2, one line."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    model = family("gpt2") if gpt2 else tiny_model
    process = subprocess.run(
        [sys.executable, "-m", "runners.train", "--task", "sst2", "--model", model, "--data-dir", data_dir,
         "--strategy", name, "--param", param, "--quiet", "--out", str(tmp_path / "out")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert process.returncode == 2, process.stderr
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in process.stderr
    assert message in lines[0]
