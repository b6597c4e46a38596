"""From comparison to deployment: seed runs save their trained weights, peft-based runs also as a standard
peft adapter folder with our head beside it, and ``runners.export`` writes the chosen run as an adapter, a
merged plain ``transformers`` folder or (decoders) an ``AutoModelForSequenceClassification`` folder.

What a user runs without peftbench is written here with peft, transformers and safetensors alone
(``standalone_logits``: the head applied by hand, as docs/guides/deploy.md shows), and its
predictions are compared with peftbench's own (``strategies.load_trained``, inputs built by ``peftbench.data``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from peftbench.inference import TOLERANCE
from peftbench.models import keep_training_layout
from tests.test_cli_train import assert_one_line_error, run_cli



# ----------------------------------------------------------------------------- loading without peftbench
def pooled_logits(encoder, tokenizer, head: dict, weights: dict, texts: list[str], pairs=None) -> torch.Tensor:
    """Our head by hand on a transformers/peft encoder (no peftbench code)."""
    batch = tokenizer(texts, pairs, padding=True, truncation=True, max_length=head["max_length"], return_tensors="pt")
    mask = batch["attention_mask"]
    if head["causal"]:
        batch["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        hidden = encoder.eval()(**batch).last_hidden_state
    if head["pooling"] == "mean":
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
    elif head["pooling"] == "cls":
        pooled = hidden[:, 0]
    else:
        pooled = hidden[torch.arange(len(hidden)), (mask * torch.arange(mask.shape[1])).argmax(-1)]
    return pooled @ weights["classifier.weight"].T + weights["classifier.bias"]


def standalone_logits(folder: Path, texts: list[str], *, adapter: Path | None = None, model: Path | None = None,
                      tokenizer: Path | None = None, pairs=None) -> torch.Tensor:
    """``folder``'s head.json/head.safetensors on a peft adapter (loaded on its base) or a plain model folder."""
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoTokenizer, BitsAndBytesConfig

    head = json.loads((folder / "head.json").read_text())
    weights = load_file(str(folder / "head.safetensors"))
    assert head["format"] == "peftbench-head" and set(weights) == {"classifier.weight", "classifier.bias"}
    if adapter is not None:
        options = {}
        if head["quantization"]:  # the base loaded 4-bit as it was trained
            options["quantization_config"] = BitsAndBytesConfig.from_dict(dict(head["quantization"]))
        base = AutoModel.from_pretrained(head["base_model_path"], **options)
        keep_training_layout(base)  # as the exported README does: no bf16 repacking on AVX512-BF16 CPUs
        encoder = PeftModel.from_pretrained(base, str(adapter))
    else:
        encoder = AutoModel.from_pretrained(model)
    tok = AutoTokenizer.from_pretrained(tokenizer or model or head["base_model_path"])
    if tok.pad_token is None:  # a seed run's folder has no tokenizer: decoders pad with eos, as peftbench does
        tok.pad_token = tok.eos_token
    return pooled_logits(encoder, tok, head, weights, texts, pairs)


# ----------------------------------------------------------------------------- peftbench's own predictions
def dev_texts(data_dir: str, task: str = "sst2") -> list[str]:
    rows = (Path(data_dir) / task / "dev.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [row.split("\t")[0] for row in rows]


def peftbench_logits(folder: Path, data_dir: str) -> torch.Tensor:
    """The saved run rebuilt by peftbench, on its task's dev split tokenised and padded by peftbench.data."""
    from peftbench.data import collate, encode_split
    from peftbench.tasks import TaskRequest, load_task
    from strategies import load_trained

    model, tokenizer, config = load_trained(str(folder))
    data = load_task(TaskRequest(config.task, data_dir))
    split = encode_split(data.dev, data.spec, tokenizer, config.max_length)
    inputs, _ = collate(split, list(range(len(split))), tokenizer.pad_token_id)
    with torch.no_grad():
        return model(**inputs)


def assert_same(got: torch.Tensor, expected: torch.Tensor) -> None:
    assert got.shape == expected.shape
    assert float((got - expected).abs().max()) <= TOLERANCE
    assert torch.equal(got.argmax(-1), expected.argmax(-1))


# ----------------------------------------------------------------------------- a comparison to export from
def compare(model: str, data_dir: str, out: Path, strategies: str, seeds: int) -> Path:
    from runners.compare import main

    assert main(["--task", "sst2", "--preset", "smoke", "--model", model, "--data-dir", data_dir, "--out", str(out),
                 "--strategies", strategies, "--trials", "1", "--seeds", str(seeds), "--quiet", "--no-report"]) == 0
    return out


@pytest.fixture(scope="module")
def run_dir(tiny_model, data_dir, tmp_path_factory) -> Path:
    return compare(tiny_model, data_dir, tmp_path_factory.mktemp("export") / "run", "lora,full,adapters", seeds=2)


@pytest.fixture(scope="module")
def gpt2_run(data_dir, tmp_path_factory) -> Path:
    from tests.fixtures.families import build_family

    root = tmp_path_factory.mktemp("gpt2")
    return compare(build_family("gpt2", root / "models"), data_dir, root / "run", "lora", seeds=1)


def export(run: Path, out: Path, *args: str, capsys=None) -> str:
    from runners.export import main

    assert main([str(run), "--out", str(out), *args]) == 0
    return capsys.readouterr().out if capsys is not None else ""


def seed_folder(run: Path, strategy: str, seed: int) -> Path:
    return run / "models" / strategy / f"seed-{seed}"


# ----------------------------------------------------------------------------- 1. seed runs are saved
def test_every_seed_run_saves_its_weights_head_and_peft_adapter(run_dir):
    results = json.loads((run_dir / "results.json").read_text())
    assert sorted(p.name for p in (run_dir / "models").iterdir()) == ["adapters", "full", "lora"]
    for strategy in ("lora", "full", "adapters"):
        # only the seed runs save: the tuning trial of each strategy left nothing
        assert sorted(p.name for p in (run_dir / "models" / strategy).iterdir()) == ["seed-0", "seed-1"]
        for record in results["strategies"][strategy]["seed_runs"]:
            folder = seed_folder(run_dir, strategy, record["seed"])
            assert Path(record["artifact_path"]).resolve() == (folder / "trained.safetensors").resolve()
            assert record["artifact_bytes"] == (folder / "trained.safetensors").stat().st_size
            files = {p.name for p in folder.iterdir()}
            assert {"trained.safetensors", "train_config.json", "head.safetensors", "head.json"} <= files
            # the peft adapter folder exactly where the encoder is a peft model
            assert ("adapter" in files) == (strategy == "lora")
    adapter = seed_folder(run_dir, "lora", 0) / "adapter"
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in adapter.iterdir()}
    from safetensors.torch import load_file

    trained = load_file(str(adapter / "adapter_model.safetensors"))
    assert any(".lora_B." in name and tensor.abs().max() > 0 for name, tensor in trained.items())  # it trained
    head = json.loads((seed_folder(run_dir, "lora", 0) / "head.json").read_text())
    assert head["pooling"] == "mean" and head["causal"] is False and head["num_labels"] == 2
    assert head["label_names"] == ["negative", "positive"] and head["quantization"] is None


def test_a_seed_runs_adapter_loads_with_peft_alone_to_the_same_predictions(run_dir, data_dir):
    folder = seed_folder(run_dir, "lora", 1)
    assert_same(standalone_logits(folder, dev_texts(data_dir), adapter=folder / "adapter"),
                peftbench_logits(folder, data_dir))


@pytest.mark.parametrize("strategy", ["ia3", "loha", "pissa", "qlora"])
def test_other_peft_methods_adapters_load_with_peft_alone(strategy, tiny_model, data_dir, tmp_path):
    """IA3 and LoHa (other peft tuners), PiSSA (its base rewritten at initialisation: saved converted to LoRA on
    the untouched base) and QLoRA (the base loaded 4-bit from head.json's quantisation config)."""
    from peftbench.config import TrainConfig
    from peftbench.train import train
    from strategies import get_strategy

    folder = tmp_path / strategy
    train(TrainConfig(task="sst2", model=tiny_model, data_dir=data_dir, batch_size=16, max_steps=4, lr=5e-2,
                      progress=False, device="cpu", output_dir=str(folder)), get_strategy(strategy))
    config = json.loads((folder / "adapter" / "adapter_config.json").read_text())
    if strategy == "pissa":
        assert config["init_lora_weights"] is True and config["r"] == 2 * 8  # a plain LoRA of twice the rank
    expected = peftbench_logits(folder, data_dir)
    assert_same(standalone_logits(folder, dev_texts(data_dir), adapter=folder / "adapter"), expected)


# ----------------------------------------------------------------------------- 2. export
def test_export_picks_the_best_dev_seed_and_writes_adapter_head_and_a_working_snippet(run_dir, data_dir, tmp_path,
                                                                                      capsys):
    results = json.loads((run_dir / "results.json").read_text())
    runs = results["strategies"]["lora"]["seed_runs"]
    best = max(runs, key=lambda r: (r["metrics"]["dev"]["accuracy"], -r["seed"]))["seed"]
    out = tmp_path / "lora"
    printed = export(run_dir, out, "--strategy", "lora", capsys=capsys)
    assert f"exported lora seed {best} (best dev accuracy" in printed
    assert "PeftModel.from_pretrained" in printed and "def predict" in printed
    assert {p.name for p in out.iterdir()} == {"adapter", "head.safetensors", "head.json", "tokenizer", "README.md"}
    texts = dev_texts(data_dir)
    expected = peftbench_logits(seed_folder(run_dir, "lora", best), data_dir)
    assert_same(standalone_logits(out, texts, adapter=out / "adapter", tokenizer=out / "tokenizer"), expected)
    # the README's code, as a user copies it, predicts the same labels
    code = re.search(r"```python\n(.*?)```", (out / "README.md").read_text(), re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["predict"](texts) == [["negative", "positive"][i] for i in expected.argmax(-1).tolist()]


def test_export_merge_writes_a_plain_automodel_folder(run_dir, data_dir, tmp_path, capsys):
    out = tmp_path / "merged"
    printed = export(run_dir, out, "--strategy", "lora", "--seed", "1", "--merge", capsys=capsys)
    assert "exported lora seed 1 (as asked)" in printed
    # mean pooling has no transformers sequence-classification equivalent (BERT's head pools through its pooler)
    assert "no sequence-classification/ folder: mean pooling" in printed
    assert {p.name for p in out.iterdir()} == {"model", "head.safetensors", "head.json", "README.md"}
    assert not any(p.name.startswith("adapter") for p in (out / "model").iterdir())
    assert_same(standalone_logits(out, dev_texts(data_dir), model=out / "model"),
                peftbench_logits(seed_folder(run_dir, "lora", 1), data_dir))


def test_export_full_fine_tuning_merged_and_as_trainable_tensors(run_dir, data_dir, tmp_path):
    from strategies import load_trained

    expected = peftbench_logits(seed_folder(run_dir, "full", 0), data_dir)
    export(run_dir, tmp_path / "merged", "--strategy", "full", "--seed", "0", "--merge")
    assert_same(standalone_logits(tmp_path / "merged", dev_texts(data_dir), model=tmp_path / "merged" / "model"),
                expected)
    export(run_dir, tmp_path / "tensors", "--strategy", "full", "--seed", "0")
    assert {"trained.safetensors", "train_config.json", "head.json"} <= {p.name for p in (tmp_path / "tensors").iterdir()}
    assert_same(peftbench_logits(tmp_path / "tensors", data_dir), expected)
    assert load_trained(str(tmp_path / "tensors"))[2].seed == 0


def test_a_decoder_exports_as_adapter_merged_and_sequence_classification(gpt2_run, data_dir, tmp_path, capsys):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = seed_folder(gpt2_run, "lora", 0)
    texts = dev_texts(data_dir)
    expected = peftbench_logits(folder, data_dir)
    head = json.loads((folder / "head.json").read_text())
    assert head["pooling"] == "last" and head["causal"] is True
    assert_same(standalone_logits(folder, texts, adapter=folder / "adapter"), expected)

    out = tmp_path / "gpt2"
    printed = export(gpt2_run, out, "--strategy", "lora", "--merge", capsys=capsys)
    assert "AutoModelForSequenceClassification" in printed
    assert_same(standalone_logits(out, texts, model=out / "model"), expected)
    tokenizer = AutoTokenizer.from_pretrained(out / "sequence-classification")
    classifier = AutoModelForSequenceClassification.from_pretrained(out / "sequence-classification").eval()
    assert classifier.config.id2label == {0: "negative", 1: "positive"}
    with torch.no_grad():
        logits = classifier(**tokenizer(texts, padding=True, truncation=True, max_length=head["max_length"],
                                        return_tensors="pt")).logits
    assert_same(logits, expected)


# ----------------------------------------------------------------------------- 3. refusals: one line, exit 2
def test_a_run_dir_without_results_is_refused_by_the_command_in_one_line(tmp_path):
    process = run_cli("runners.export", str(tmp_path), "--strategy", "lora", "--out", str(tmp_path / "out"))
    assert_one_line_error(process, f"{tmp_path} has no results.json")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args,fragment", [
    (["{run}", "--strategy", "adapters", "--merge"], "--merge: strategy adapters adds modules outside peft "
     "(strategies.adapters.Bottleneck, strategies.adapters.WithAdapter) that a plain transformers BertModel does not have"),
    (["{run}", "--strategy", "bitfit"], "has no strategy 'bitfit'; it compared lora, full, adapters"),
    (["{run}", "--strategy", "lora", "--seed", "7"], "seed 7 of lora was not run in {run}; its seed runs are 0, 1"),
    (["{tmp}", "--strategy", "lora"], "{tmp} has no results.json"),
    (["{run}", "--strategy", "lora", "--out", "{run}"], "already exists and is not an empty directory"),
    (["{run}", "--strategy", "lora", "--seed", "-1"], "argument --seed: must be 0 or a positive integer"),
], ids=["merge-bottleneck-adapters", "unknown-strategy", "seed-not-run", "no-results", "out-not-empty", "negative-seed"])
def test_bad_export_input_is_one_line_and_exit_2(args, fragment, run_dir, tmp_path, capsys):
    """Each refusal is one line and exit 2 (peftbench.cli.run_main, as the command runs it), and nothing is written."""
    from peftbench.cli import run_main
    from runners.export import main

    fill = lambda text: text.replace("{run}", str(run_dir)).replace("{tmp}", str(tmp_path))  # noqa: E731
    argv = [fill(a) for a in args] + ([] if "--out" in args else ["--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit) as exited:
        run_main(main, argv)
    assert exited.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and fill(fragment) in lines[0]
    assert not (tmp_path / "out").exists()


def test_the_deploy_guide_shows_the_code_every_export_is_checked_with():
    from studies.export import LOAD_MERGED, PREDICT

    deploy = (Path(__file__).resolve().parents[1] / "docs" / "guides" / "deploy.md").read_text(encoding="utf-8")
    assert PREDICT in deploy and LOAD_MERGED in deploy
