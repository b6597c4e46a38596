"""The contract every registered strategy keeps, one row per strategy (a strategy without a row fails
``test_every_registered_strategy_has_a_row``), on a tiny BERT whose biases are not zero (so a method that
scales or shifts a bias can move):

- exactly the expected parameters train (the row's pattern and tensor count; the head always trains), and two
  optimiser steps change every one of them and no frozen parameter or buffer;
- the pretrained weights are what the strategy declares (``base_weights``: kept bit for bit, or rewritten), and the
  untrained model computes the pretrained function where the row says it starts there;
- a short run saved and reloaded (``strategies.load_trained``) predicts identically to the model that trained;
- export: the saved peft adapter loads with peft alone onto the untouched base to the same predictions (or, for a
  strategy that rewrites its base, none is written and writing one is refused in one line), and merging gives a
  plain transformers model with the same predictions, or one line saying why not;

and on a second family, GPT-2 (fused ``c_attn`` Conv1D layers, a decoder): every strategy trains exactly what it
makes trainable, or refuses in one line. The other 14 families run in ``benchmarks/methods_matrix.py``, whose
committed table (docs/methods-matrix.md) records the result.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch

from benchmarks.methods_matrix import two_steps
from peftbench import artifacts
from peftbench.build import build_model
from peftbench.config import TrainConfig
from peftbench.errors import UserError
from peftbench.models import load_encoder
from peftbench.strategy import BASE_WEIGHTS, FAMILIES
from strategies import STRATEGIES, get_strategy, groups, load_trained

LAYER = r"\.layer\.\d\."
QV = LAYER + r"attention\.self\.(query|value)\."  # peft's (and LoRA's) default targets on BERT
ALL_LINEAR = LAYER + r"(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)\."
LORA = QV + r"lora_[AB]\.default\.weight$"
QV_LAYERS = 2 * 2  # 2 blocks × (query, value)


@dataclass(frozen=True)
class Row:
    """What a strategy must do on the tiny BERT: ``trains`` matches every trainable encoder parameter (the head,
    ``classifier.*``, always trains) and there are ``tensors`` of them; ``starts_pretrained``: the untrained model
    computes the pretrained function (up to float rounding); ``merges``: ``--merge`` gives a plain model (else it
    is refused in one line); ``gpt2``: the one-line refusal on GPT-2 (a regex), or None if it trains there;
    ``params``: hyperparameters for the short runs here, where the defaults do not fit 3 steps."""

    trains: str
    tensors: int
    starts_pretrained: bool = True
    merges: bool = True
    gpt2: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


LINEAR_ONLY = r"peft implements it for nn\.Linear layers only, and h\.0\.attn\.c_attn of GPT2Model is a Conv1D$"
EVERY_ENCODER_TENSOR = 5 + 2 * 16  # embeddings (3 tables + norm) and 16 tensors per block
CONTRACT: dict[str, Row] = {
    "full": Row(r".", EVERY_ENCODER_TENSOR),
    "frozen": Row(r"^$", 0),
    "lora": Row(LORA, QV_LAYERS * 2),
    "adapters": Row(r"(\.adapter\.(down|up)\.(weight|bias)|LayerNorm\.(weight|bias))$", 2 * 2 * 4 + 5 * 2, merges=False),
    "llrd": Row(r".", EVERY_ENCODER_TENSOR),
    "qlora": Row(LORA, QV_LAYERS * 2, starts_pretrained=False, merges=False),  # a 4-bit base computes another function
    "bitfit": Row(r"\.bias$", 1 + 2 * 8),  # the embeddings' norm, 8 per block
    "loha": Row(QV + r"hada_w[12]_[ab]\.default$", QV_LAYERS * 4, gpt2=LINEAR_ONLY),
    "lokr": Row(QV + r"lokr_w[12]\.default$", QV_LAYERS * 2, gpt2=LINEAR_ONLY),
    "oft": Row(QV + r"oft_R\.default\.weight$", QV_LAYERS, gpt2=LINEAR_ONLY),
    "boft": Row(QV + r"boft_[Rs]\.default$", QV_LAYERS * 2, gpt2=LINEAR_ONLY),
    "hra": Row(QV + r"hra_u\.default$", QV_LAYERS, gpt2=LINEAR_ONLY),
    "ia3": Row(LAYER + r"(attention\.self\.(key|value)|output\.dense)\.ia3_l\.default$", 2 * 3),
    "ln_tuning": Row(r"LayerNorm\.ln_tuning_layers\.default\.(weight|bias)$", 5 * 2),
    "prompt_tuning": Row(r"^encoder\.prompt\.embedding\.weight$", 1, starts_pretrained=False, merges=False),
    "prefix_tuning": Row(r"^encoder\.prompt\.embedding\.weight$", 1, starts_pretrained=False, merges=False),
    "p_tuning": Row(r"^encoder\.prompt\.(embedding\.weight|lstm_head\.\w+|mlp_head\.[02]\.(weight|bias))$", 1 + 16 + 4,
                    starts_pretrained=False, merges=False),
    "dora": Row(QV + r"lora_(A|B|magnitude_vector)\.default\.weight$", QV_LAYERS * 3),
    "rslora": Row(LORA, QV_LAYERS * 2),
    "pissa": Row(LORA, QV_LAYERS * 2),
    "olora": Row(LORA, QV_LAYERS * 2, gpt2=r"^olora: " + LINEAR_ONLY),
    "loraplus": Row(LORA, QV_LAYERS * 2),
    "adalora": Row(ALL_LINEAR + r"lora_[ABE]\.default$", 2 * 6 * 3, params={"tinit_ratio": 0.0, "tfinal_ratio": 0.2}),
    "vera": Row(QV + r"vera_lambda_[bd]\.default$", QV_LAYERS * 2),
    "qdora": Row(QV + r"lora_(A|B|magnitude_vector)\.default\.weight$", QV_LAYERS * 3, starts_pretrained=False,
                 merges=False),
    "lora_orthogonal": Row(LORA, QV_LAYERS * 2),
    "mica": Row(QV + r"lora_A\.default\.weight$", QV_LAYERS),  # B is frozen on the minor singular vectors
    "kasa": Row(QV + r"(lora_[AB]\.default\.weight|lora_diag\.default)$", QV_LAYERS * 3, starts_pretrained=False,
                gpt2=r"^kasa: " + LINEAR_ONLY),
    "loftq": Row(LORA, QV_LAYERS * 2, starts_pretrained=False, gpt2=r"^loftq: " + LINEAR_ONLY),  # Q(W) + BA ≈ W
    "lorafa": Row(QV + r"lora_B\.default\.weight$", QV_LAYERS),  # A is frozen
    "delora": Row(QV + r"delora_(A|B|lambda)\.default$", QV_LAYERS * 3, gpt2=LINEAR_ONLY),
    "gralora": Row(QV + r"gralora_[AB]\.default$", QV_LAYERS * 2),
    "hira": Row(QV + r"hira_[AB]\.default$", QV_LAYERS * 2, gpt2=LINEAR_ONLY),
    "glora": Row(QV + r"(glora_[ABC]\.default\.X[du]|glora_[DE]\.default\.X)$", QV_LAYERS * 8, gpt2=LINEAR_ONLY),
    # shared across layers: one A per 2 blocks and one B per kind (query, value), a router per layer
    "lily": Row(QV + r"lily_(A|B|router)\.default\.weight$", 2 + 2 + QV_LAYERS, merges=False, gpt2=LINEAR_ONLY),
    "miss": Row(QV + r"miss_block\.default$", QV_LAYERS, gpt2=LINEAR_ONLY),
    "peanut": Row(QV + r"peanut_[AB]\.default\.weight$", QV_LAYERS * 2, gpt2=LINEAR_ONLY),
    "deft": Row(QV + r"deft_[PR]\.default$", QV_LAYERS * 2),
    "pvera": Row(QV + r"pvera_lambda_[bd]\.default$", QV_LAYERS * 2),
    "randlora": Row(QV + r"randlora_(gamma|lambda)\.default$", QV_LAYERS * 2),
    "vblora": Row(QV + r"vblora_(logits_[AB]|vector_bank)\.default$", QV_LAYERS * 2 + 1,  # one bank for all layers
                  starts_pretrained=False),  # the bank and the logits start random
    "unilora": Row(QV + r"unilora_theta_d\.default$", 1, starts_pretrained=False),  # one vector for all layers
    "tinylora": Row(QV + r"tinylora_v\.default\.\d+$", QV_LAYERS),
    "fourierft": Row(QV + r"fourierft_spectrum\.default$", QV_LAYERS, starts_pretrained=False, gpt2=LINEAR_ONLY),
    "waveft": Row(QV + r"waveft_spectrum\.default$", QV_LAYERS, gpt2=LINEAR_ONLY),
    "c3a": Row(QV + r"c3a_kernel\.default$", QV_LAYERS, starts_pretrained=False, gpt2=LINEAR_ONLY),
    "frod": Row(QV + r"frod_lambda_(l|s_values)\.default$", QV_LAYERS * 2, gpt2=LINEAR_ONLY),
    "psoft": Row(QV + r"psoft_R\.default\.(weight|vector_a|vector_b)$", QV_LAYERS * 3, gpt2=LINEAR_ONLY),
    "osf": Row(QV + r"osf_svd_params\.default\.[USV]_low$", QV_LAYERS * 3, gpt2=LINEAR_ONLY),
    "road": Row(ALL_LINEAR + r"road_(alpha|theta)\.default$", 2 * 6 * 2, gpt2=LINEAR_ONLY),
    "shira": Row(QV + r"shira_weight\.default$", QV_LAYERS, gpt2=LINEAR_ONLY),
    "supertuning": Row(QV + r"supertuning_values\.default$", QV_LAYERS, gpt2=LINEAR_ONLY),
    "beft": Row(LAYER + r"attention\.self\.value\.beft_bias\.default$", 2, gpt2=r"^beft: " + LINEAR_ONLY),
}
NAMES = list(STRATEGIES)
INPUTS = {"input_ids": torch.randint(1000, 2000, (4, 7), generator=torch.Generator().manual_seed(1)),
          "attention_mask": torch.tensor([[1] * 7, [1] * 5 + [0] * 2, [1] * 3 + [0] * 4, [1] * 6 + [0]])}
LABELS = torch.tensor([0, 1, 0, 1])


def test_every_registered_strategy_has_a_row():
    assert sorted(set(STRATEGIES) - set(CONTRACT)) == [], "a registered strategy without a contract row is untested"
    assert sorted(set(CONTRACT) - set(STRATEGIES)) == [], "a row for a strategy that is not registered"


@pytest.mark.parametrize("name", NAMES)
def test_declared_metadata_is_known(name):
    cls = STRATEGIES[name]
    assert cls.family in FAMILIES and cls.base_weights in BASE_WEIGHTS
    assert cls.summary and cls.learning_rate.low <= cls.learning_rate.default <= cls.learning_rate.high
    assert name in groups()["all"] and all(name in groups()[group] for group in cls.groups)


@pytest.fixture(scope="module")
def biased_bert(tiny_model, tmp_path_factory) -> str:
    """The tiny BERT with small random biases (transformers initialises them to zero, and a bias-scaling path, like
    GLoRA's D, would then get no gradient)."""
    from tests.fixtures.families import with_random_biases

    return with_random_biases(tiny_model, tmp_path_factory.mktemp("biased"))


def make(name: str, model_dir: str):
    strategy = get_strategy(name, CONTRACT[name].params)
    return strategy, build_model(TrainConfig(model=model_dir, seed=0), strategy, num_labels=2, total_steps=10)


def tensors(model) -> dict[str, torch.Tensor]:
    return {name: t.detach().clone() for name, t in [*model.named_parameters(), *model.named_buffers()]}


@pytest.mark.parametrize("name", NAMES)
def test_exactly_the_expected_parameters_train_and_two_steps_change_only_them(name, biased_bert):
    strategy, model = make(name, biased_bert)
    row = CONTRACT[name]
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    encoder = {n for n in trainable if not n.startswith("classifier.")}
    assert trainable - encoder == {"classifier.weight", "classifier.bias"}
    assert sorted(n for n in encoder if not re.search(row.trains, n)) == []
    assert len(encoder) == row.tensors, sorted(encoder)

    before = tensors(model)
    two_steps(strategy, model, INPUTS, LABELS)
    after = tensors(model)
    assert sorted(n for n in trainable if torch.equal(before[n], after[n])) == [], "trainable but unchanged"
    assert sorted(n for n in before if n not in trainable and not torch.equal(before[n], after[n])) == [], \
        "frozen (or a buffer) but changed"


def pretrained_name(name: str) -> str:
    """A parameter's name in the bare encoder, from its name inside a strategy's wrappers (peft's, our prompt and
    adapter modules')."""
    name = name.removeprefix("base_model.model.").removeprefix("base.")
    return name.replace(".base_layer.", ".").replace(".projection.", ".")


@pytest.mark.parametrize("name", NAMES)
def test_pretrained_weights_are_as_declared_and_training_starts_where_the_row_says(name, biased_bert):
    strategy, model = make(name, biased_bert)
    reference = load_encoder(biased_bert, strategy.quantization())  # loaded as the strategy loads it
    found = {pretrained_name(n): p for n, p in model.encoder.named_parameters()}
    pretrained = dict(reference.named_parameters())
    assert set(pretrained) <= set(found), sorted(set(pretrained) - set(found))[:3]
    changed = sorted(n for n, p in pretrained.items() if not torch.equal(p, found[n]))
    if strategy.base_weights == "kept":
        assert changed == [], "an initialisation rewrote pretrained weights; declare base_weights"
    else:
        assert changed, f"base_weights={strategy.base_weights!r} declared, but no pretrained weight changed"

    _, plain = make("frozen", biased_bert)
    model.eval(), plain.eval()
    with torch.no_grad():
        gap = float((model.encode(**INPUTS) - plain.encode(**INPUTS)).abs().max())
    assert (gap <= 1e-4) is CONTRACT[name].starts_pretrained, gap


@pytest.fixture(scope="module")
def trained_runs(biased_bert, data_dir, tmp_path_factory):
    """name → (the model as training left it, its output directory): 3 steps of each strategy at its default rate."""
    import peftbench.train

    runs = {}

    def run(name: str):
        if name not in runs:
            built, build = [], peftbench.train.build_model
            peftbench.train.build_model = lambda *a, **k: built.append(build(*a, **k)) or built[-1]
            try:
                folder = tmp_path_factory.mktemp(name)
                config = TrainConfig(task="sst2", model=biased_bert, data_dir=data_dir, batch_size=16, max_steps=3,
                                     progress=False, device="cpu", output_dir=str(folder))
                peftbench.train.train(config, get_strategy(name, CONTRACT[name].params))
            finally:
                peftbench.train.build_model = build
            runs[name] = built[0].eval(), folder
        return runs[name]

    return run


def dev_batch(folder: Path, data_dir: str):
    from peftbench.data import collate, encode_split
    from peftbench.tasks import TaskRequest, load_task

    model, tokenizer, config = load_trained(str(folder))
    data = load_task(TaskRequest("sst2", data_dir))
    split = encode_split(data.dev, data.spec, tokenizer, config.max_length)
    return model, tokenizer, collate(split, list(range(len(split))), tokenizer.pad_token_id)[0]


@pytest.mark.parametrize("name", NAMES)
def test_a_saved_run_reloads_to_identical_predictions_and_exports(name, trained_runs, data_dir, tmp_path):
    from studies import export

    trained, folder = trained_runs(name)
    reloaded, tokenizer, inputs = dev_batch(folder, data_dir)
    with torch.no_grad():
        assert torch.equal(reloaded(**inputs), trained(**inputs))

    strategy = get_strategy(name, CONTRACT[name].params)
    saved = artifacts.read_saved_run(str(folder))
    head = artifacts.head_record(reloaded, saved.config, name, saved.num_labels)
    weights = artifacts.head_tensors(reloaded)
    expected = export.reference_logits(reloaded, tokenizer, head)
    if not artifacts.is_peft_encoder(reloaded.encoder):
        assert not (folder / artifacts.ADAPTER_DIR).exists()
    elif strategy.base_weights == "rewritten":
        assert not (folder / artifacts.ADAPTER_DIR).exists(), "an adapter that would load to other predictions"
        with pytest.raises(UserError, match="export it with --merge$"):
            artifacts.write_adapter(tmp_path / "adapter", reloaded, strategy.base_weights)
    else:  # what a user loads with peft and transformers alone, onto the untouched base
        encoder = export.adapter_encoder(folder / artifacts.ADAPTER_DIR, head)
        assert export.difference(export.snippet_logits(encoder, tokenizer, head, weights), expected) <= export.TOLERANCE

    if CONTRACT[name].merges:
        merged = export.merged_encoder(reloaded, saved)
        assert export.difference(export.snippet_logits(merged, tokenizer, head, weights), expected) <= export.TOLERANCE
    else:
        with pytest.raises(UserError) as refused:
            export.merged_encoder(reloaded, saved)
        assert str(refused.value).startswith("--merge: ") and "\n" not in str(refused.value)


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory) -> str:
    from tests.fixtures.families import build_family

    return build_family("gpt2", tmp_path_factory.mktemp("families"))


@pytest.mark.parametrize("name", NAMES)
def test_on_gpt2_every_strategy_trains_what_it_makes_trainable_or_refuses_in_one_line(name, gpt2):
    from transformers import AutoTokenizer

    refusal = CONTRACT[name].gpt2
    if refusal is not None:
        with pytest.raises(UserError) as refused:
            make(name, gpt2)
        assert re.search(refusal, str(refused.value)) and "\n" not in str(refused.value), str(refused.value)
        return
    strategy, model = make(name, gpt2)
    tokenizer = AutoTokenizer.from_pretrained(gpt2)
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    inputs = dict(tokenizer(["a great film", "boring and long", "dull", "it is a small film about big feelings"],
                            padding=True, return_tensors="pt"))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any(not n.startswith("classifier.") for n in trainable) or name == "frozen"
    before = tensors(model)
    two_steps(strategy, model, inputs, LABELS)
    after = tensors(model)
    assert sorted(n for n in trainable if torch.equal(before[n], after[n])) == []
    assert sorted(n for n in before if n not in trainable and not torch.equal(before[n], after[n])) == []
    assert all(math.isfinite(float(p.abs().max())) for p in model.parameters() if p.is_floating_point())
