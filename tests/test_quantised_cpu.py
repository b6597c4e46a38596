"""QLoRA and QDoRA on every x86-64 CPU, with or without AVX512-BF16 (issue: "QLoRA and QDoRA fail on CPUs
with AVX512-BF16").

bitsandbytes' ``Linear4bit`` reads ``has_avx512bf16()`` when it is built; with the flag on, the layer's first
forward pass in eval mode without grad repacks its weight into a bf16 inference layout, after which a training
step fails and predictions are computed in bf16. peftbench never repacks (``strategies.qlora``). The tests
that force the flag on run wherever the suite runs, so a change that lets the repack happen again is caught
on a CI machine without the instructions too; the check of the repacked layout's own numbers needs its kernel,
which bitsandbytes registers only on CPUs that have them, and is skipped elsewhere.
"""

from __future__ import annotations

import pytest
import torch

bnb_modules = pytest.importorskip("bitsandbytes.nn.modules")
from bitsandbytes.functional import has_avx512bf16  # noqa: E402

from peftbench.build import build_model  # noqa: E402
from peftbench.config import TrainConfig  # noqa: E402
from peftbench.tasks import load_task  # noqa: E402
from peftbench.train import train  # noqa: E402
from strategies import STRATEGIES, get_strategy  # noqa: E402

from peftbench.models import FOUR_BIT_REPACK_FLAG as REPACK_FLAG  # noqa: E402
HAS_AVX512_BF16 = bool(has_avx512bf16())
# every strategy that loads its encoder quantised (as declared), so a new one is forced too
QUANTISED_ENCODERS = [name for name, cls in STRATEGIES.items() if cls.info().quantised_encoder]


@pytest.fixture
def repack_flag_on(monkeypatch):
    """Every ``Linear4bit`` built from now on has bitsandbytes' repack flag on, as on an AVX512-BF16 CPU."""
    monkeypatch.setattr(bnb_modules, "has_avx512bf16", lambda: True)


def quantised_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    return [m for m in model.modules() if isinstance(m, bnb_modules.Linear4bit)]


def repacked(model: torch.nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if isinstance(m, bnb_modules.Linear4bit)
            and getattr(m.weight.quant_state, "packing_format_for_cpu", False)]


def eval_pass(model, tokenizer_dir: str) -> torch.Tensor:
    from transformers import AutoTokenizer

    batch = AutoTokenizer.from_pretrained(tokenizer_dir)(["a great film", "a dull mess"], padding=True,
                                                         return_tensors="pt")
    model.eval()
    with torch.no_grad():
        return model(batch["input_ids"], batch["attention_mask"])


@pytest.mark.parametrize("strategy", QUANTISED_ENCODERS)
def test_the_first_eval_pass_never_repacks_even_with_the_flag_forced_on(repack_flag_on, tiny_model, strategy):
    """The model build runs an eval pass without grad (is_causal) before the strategy's prepare(): with the
    flag on, that pass repacked every quantised layer on the old code."""
    model = build_model(TrainConfig(model=tiny_model), get_strategy(strategy), num_labels=2, total_steps=10)
    layers = quantised_layers(model)
    assert layers, "the encoder was not quantised"
    assert not any(getattr(m, REPACK_FLAG) for m in layers)
    eval_pass(model, tiny_model)
    assert repacked(model) == []


@pytest.mark.parametrize("avx512_bf16", [True, False], ids=["flag-forced-on", "flag-forced-off"])
@pytest.mark.parametrize("strategy", QUANTISED_ENCODERS)
def test_training_evaluation_and_reload_work_with_the_flag_forced_either_way(monkeypatch, tiny_model, data_dir,
                                                                           tmp_path, strategy, avx512_bf16):
    """A whole run, dev evaluations mid-training included, then a reload that predicts the same: as bitsandbytes
    builds its layers on a CPU with AVX512-BF16 and on one without, whichever CPU runs the suite."""
    monkeypatch.setattr(bnb_modules, "has_avx512bf16", lambda: avx512_bf16)
    from strategies import load_trained

    config = TrainConfig(task="sst2", model=tiny_model, data_dir=data_dir, train_size=32, max_length=32,
                         batch_size=8, eval_every=2, output_dir=str(tmp_path / "run"), progress=False)
    data = load_task(config.task_request())
    result = train(config, get_strategy(strategy), data=data)
    assert result.steps == 4 and len(result.learning_curve) >= 2
    assert result.metrics["dev"]["accuracy"] is not None
    model, _, _ = load_trained(str(tmp_path / "run"))
    first = eval_pass(model, tiny_model)
    assert repacked(model) == []
    assert torch.equal(first, eval_pass(model, tiny_model))


@pytest.mark.parametrize("family", ["electra", "albert"])
def test_projected_embeddings_train_with_the_flag_forced_on(repack_flag_on, data_dir, tmp_path, family):
    """ELECTRA and ALBERT project their embeddings to the hidden size: the repacked projection failed with
    "shape '[64, 0]' is invalid" on the old code."""
    from tests.fixtures.families import build_family

    model_dir = build_family(family, tmp_path / "models")
    config = TrainConfig(task="sst2", model=model_dir, data_dir=data_dir, train_size=16, max_length=32,
                         batch_size=8, progress=False)
    result = train(config, get_strategy("qlora"), data=load_task(config.task_request()))
    assert result.steps == 2 and result.metrics["dev"]["accuracy"] is not None


def test_the_exported_loading_code_never_repacks_with_the_flag_forced_on(repack_flag_on, tiny_model, data_dir,
                                                                       tmp_path):
    """runners.export checks the adapter as its README loads it; that code switches the flag off too."""
    from peftbench.artifacts import read_head
    from studies.export import adapter_encoder

    config = TrainConfig(task="sst2", model=tiny_model, data_dir=data_dir, train_size=16, max_length=32,
                         batch_size=8, output_dir=str(tmp_path / "run"), progress=False)
    train(config, get_strategy("qlora"), data=load_task(config.task_request()))
    head, _ = read_head(tmp_path / "run")
    assert head["quantization"]
    encoder = adapter_encoder(tmp_path / "run" / "adapter", head)
    from transformers import AutoTokenizer

    batch = AutoTokenizer.from_pretrained(tiny_model)(["a great film"], return_tensors="pt")
    with torch.no_grad():
        encoder(**batch)
    assert repacked(encoder) == []


@pytest.mark.skipif(not HAS_AVX512_BF16, reason="the repacked layout's kernel (bitsandbytes::gemv_4bit on CPU) is "
                    "registered only on CPUs with AVX512-BF16, and this one has none")
def test_on_an_avx512_bf16_cpu_the_library_default_repacks_and_computes_another_function(tiny_model):
    """Where the hazard is real: loaded as bitsandbytes leaves it, the first eval pass repacks, and the packed
    layer computes in bf16 a function measurably different from the trained layout's; peftbench's build,
    on the same weights, does not repack and computes the trained layout's function exactly."""
    strategy = get_strategy("qlora")
    ours = build_model(TrainConfig(model=tiny_model), strategy, num_labels=2, total_steps=10)
    default = build_model(TrainConfig(model=tiny_model), get_strategy("qlora"), num_labels=2, total_steps=10)
    for layer in quantised_layers(default):
        setattr(layer, REPACK_FLAG, True)  # what bitsandbytes set at load on this CPU
    reference = eval_pass(ours, tiny_model)  # both builds are seeded alike: the same head and adapter
    assert repacked(ours) == []
    assert torch.equal(eval_pass(ours, tiny_model), reference)
    packed = eval_pass(default, tiny_model)
    assert repacked(default), "bitsandbytes no longer repacks on this CPU: re-read Linear4bit.forward"
    gap = float((packed - reference).abs().max())
    assert 0 < gap < 0.05, gap  # bf16 rounding, not a different model
