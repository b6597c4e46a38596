"""The benchmark's mechanics on the tiny model (FLOP counting, batching arithmetic, the summary and its
table, one smoke run of both paths), and that the core's speed changes leave results as they were.
Timings are never asserted here: they live in benchmarks/results and benchmarks/NOTES.md."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmarks.hf_trainer import samples_in_steps, tokenized_rows
from benchmarks.measure import (CORE, CORE_COLD, CORE_NO_CACHE, TRAINER, TRAINER_BEST, RunMeasurement,
                                non_embedding_parameters, training_flops)
from benchmarks.summary import (BenchmarkReport, dev_tolerance, markdown, summarise_flops, summarise_frozen_cache,
                                summarise_strategy, write)
from peftbench.config import TrainConfig
from peftbench.data import encode_split
from peftbench.classifier import SequenceClassifier
from peftbench.models import load_encoder
from peftbench.tasks import TaskRequest, load_task
from peftbench.build import build_model
from peftbench.train import Batches, evaluate, train
from strategies import get_strategy, load_trained

ROOT = Path(__file__).resolve().parents[1]


def measurement(path: str, strategy: str, repetition: int, seconds: float, score: float | None = 0.8,
                wall: float = 10.0) -> RunMeasurement:
    return RunMeasurement(path=path, strategy=strategy, repetition=repetition, samples=1000, tokens=13_000,
                          train_seconds=seconds, wall_seconds=wall, peak_memory_bytes=2**30, memory_kind="cpu_peak_rss",
                          metric="accuracy", dev_score=score)


def test_non_embedding_parameters_leave_out_exactly_the_embedding_tables(tiny_model):
    model = SequenceClassifier(load_encoder(tiny_model), 2)
    embeddings = model.encoder.embeddings
    tables = sum(m.weight.numel() for m in (embeddings.word_embeddings, embeddings.position_embeddings,
                                            embeddings.token_type_embeddings))
    assert non_embedding_parameters(model) == sum(p.numel() for p in model.parameters()) - tables
    assert training_flops(1_000, 13) == 6 * 1_000 * 13


def test_samples_in_steps_counts_each_epochs_short_last_batch():
    assert [samples_in_steps(100, 32, steps) for steps in (1, 3, 4, 5, 8)] == [32, 96, 100, 132, 200]


def test_dev_tolerance_is_the_binomial_noise_of_a_difference():
    assert dev_tolerance(0.8, 872) == pytest.approx(1.96 * (2 * 0.8 * 0.2 / 872) ** 0.5)
    assert dev_tolerance(1.0, 872) == 0.0


def test_summary_pairs_repetitions_checks_targets_and_writes_json_and_markdown(tmp_path):
    runs = [measurement(TRAINER, "full", 0, 100.0), measurement(TRAINER_BEST, "full", 0, 40.0),
            measurement(CORE, "full", 0, 20.0, score=0.81),
            measurement(TRAINER, "full", 1, 80.0, score=None), measurement(TRAINER_BEST, "full", 1, 32.0, score=0.79),
            measurement(CORE, "full", 1, 25.0, score=0.81),
            measurement(TRAINER, "qlora", 0, 10.0), measurement(TRAINER_BEST, "qlora", 0, 10.0),
            measurement(CORE, "qlora", 0, 20.0, score=0.5),
            measurement(CORE_COLD, "frozen", 0, 5.0, wall=8.0), measurement(CORE, "frozen", 0, 5.0, wall=0.5),
            measurement(CORE_NO_CACHE, "frozen", 0, 5.0, wall=6.0)]
    full = summarise_strategy("full", runs, dev_size=872)
    # the headline, core / Trainer at its best: per-repetition ratios 50/25 and 40/31.25, median 1.64
    assert full.speedup == pytest.approx([1.64, 1.28, 2.0])
    assert full.speedup_tutorial == pytest.approx([4.1, 3.2, 5.0])  # per-repetition ratios 5.0 and 3.2
    assert full.met and full.agree and full.trainer.wall_seconds == [10.0, 10.0, 10.0]
    assert full.trainer.dev_scores == [0.8] and full.trainer_best.dev_scores == [0.8, 0.79]
    assert full.dev_difference == pytest.approx(0.015) and full.dev_difference_tutorial == pytest.approx(0.01)
    qlora = summarise_strategy("qlora", runs, dev_size=872)
    assert qlora.speedup == pytest.approx([0.5] * 3) and qlora.speedup_tutorial == pytest.approx([0.5] * 3)
    assert qlora.met is False and qlora.agree is False
    cache = summarise_frozen_cache(runs)
    assert cache.speedup == pytest.approx(12.0) and cache.met and cache.cold_trial_seconds == 8.0
    flops = summarise_flops(runs, non_embedding=1_000_000, matmul=[1e11, 2e11, 3e11], peak=None)
    core_flops = flops.per_strategy["full"][CORE]
    assert core_flops["flops_per_second"][0] == pytest.approx(6 * 1e6 * 13_000 * (1 / 20 + 1 / 25) / 2)
    # each repetition against its own matmul: 3.9 GFLOP/s of 100, 3.12 of 200
    assert core_flops["share_of_matmul"] == pytest.approx([(0.039 + 0.0156) / 2, 0.0156, 0.039])
    assert flops.met is False
    report = BenchmarkReport(
        settings={"task": "sst2", "train_size": 1000, "model_name": "tiny", "precision": "fp32", "batch_size": 32,
                  "epochs": 1, "max_length": 128, "repetitions": 2, "trainer_steps": 10, "metric": "accuracy",
                  "dev_size": 872},
        environment={"device": "cpu: test", "threads": 2, "omp_wait_policy": "PASSIVE", "load_before": "0.0",
                     "load_after": "0.0", "memory_kind": "cpu_peak_rss", "matmul": "fp32 4096² matmul"},
        strategies=[full, qlora], frozen_cache=cache, flops=flops, runs=runs, seconds=60.0)
    json_path, md_path = write(report, tmp_path, "bench")
    saved = json.loads(json_path.read_text())
    assert saved["strategies"][0]["speedup"] == full.speedup and len(saved["runs"]) == len(runs)
    table = md_path.read_text()
    assert table == markdown(report)
    assert ("| full | 11.2 (10.0–12.5) | 28.1 (25.0–31.2) | 45.0 (40.0–50.0) | **1.64 (1.28–2.00)×** | ≥1.5× ✓ "
            "| 4.10 (3.20–5.00)× |") in table
    assert "| full | 1024 / 1024 / 1024 | 10.0 / 10.0 / 10.0 | 0.8000 / 0.7950 / 0.8100 | yes (+0.0150 best, +0.0100 tutorial; ±0.0368) |" in table
    assert "≥1× ✗ missed" in table and "**12.0×**" in table and "| 3 (2–4)% (target ≥50% ✗ missed) |" in table


def test_fused_adamw_takes_the_same_steps_as_the_per_tensor_loop(tiny_model):
    """The core's optimizer is fused; it must move the weights as the reference implementation does.
    (Same gradients for both: model-derived ones would include e.g. the key bias's, zero up to rounding,
    which Adam normalises into full-size steps of random sign.)"""
    strategy = get_strategy("llrd", {"decay": 0.8})  # many groups with different learning rates, decay and no decay
    model = build_model(TrainConfig(model=tiny_model, seed=0), strategy, num_labels=2, total_steps=3)
    copies = [{n: p.detach().clone().requires_grad_() for n, p in model.named_parameters()} for _ in range(2)]
    optimizers = []
    for fused, parameters in zip((False, True), copies):
        model.load_state_dict({n: p.detach() for n, p in parameters.items()}, strict=False)
        groups = strategy.param_groups(model, 1e-3, 0.01)
        by_id = {id(p): n for n, p in model.named_parameters()}
        for group in groups:
            group["params"] = [parameters[by_id[id(p)]] for p in group["params"]]
        optimizers.append(torch.optim.AdamW(groups, lr=1e-3, fused=fused))
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):
        for name, parameter in copies[0].items():
            parameter.grad = torch.randn(parameter.shape, generator=generator)
            copies[1][name].grad = parameter.grad.clone()
        for optimizer in optimizers:
            optimizer.step()
    for name, parameter in copies[0].items():
        torch.testing.assert_close(copies[1][name], parameter, rtol=1e-6, atol=1e-7, msg=name)


@pytest.mark.parametrize("schedule", [
    {"lr": 1e-3},  # one evaluation: the best weights are the final ones
    {"lr": 0.5, "epochs": 6, "eval_every": 1, "patience": 2},  # stops early: the best weights are restored
])
def test_kept_dev_score_equals_a_fresh_evaluation_of_the_saved_weights(tiny_model, data_dir, tmp_path, schedule):
    """The core never re-scores dev after training: it keeps the score the best weights got when they
    were scored, and that must be exactly what evaluating the saved (best) weights gives."""
    result = train(TrainConfig(task="sst2", model=tiny_model, data_dir=data_dir, batch_size=16, progress=False,
                               device="cpu", output_dir=str(tmp_path / "run"), **schedule), get_strategy("full"))
    assert result.stopped_early == ("patience" in schedule)
    model, tokenizer, _ = load_trained(str(tmp_path / "run"))
    data = load_task(TaskRequest("sst2", data_dir))
    batches = Batches(model, {"dev": encode_split(data.dev, data.spec, tokenizer, 128)}, None, tokenizer.pad_token_id,
                      torch.device("cpu"))
    scored = evaluate(batches, "dev", 16, 2, contextlib.nullcontext)
    assert scored.metrics == result.metrics["dev"] and scored.predictions == result.predictions["dev"]
    assert max(point["value"] for point in result.learning_curve) == result.score("dev")


def test_benchmark_smoke_run_on_the_tiny_model(tiny_model, data_dir, tmp_path):
    """Both paths, the frozen cache comparison and the files, in one small invocation."""
    from benchmarks.run import main

    report = main(["--model", tiny_model, "--data-dir", data_dir, "--strategies", "full,frozen", "--train-size", "0",
                   "--reps", "2", "--trainer-steps", "2", "--batch-size", "16", "--device", "cpu",
                   "--matmul-size", "256", "--out", str(tmp_path), "--name", "smoke"])
    paths = [(r.path, r.strategy, r.repetition) for r in report.runs]
    assert paths[0] == (CORE_COLD, "frozen", 0)
    assert paths[1:4] == [(TRAINER, "full", 0), (TRAINER_BEST, "full", 0), (CORE, "full", 0)]  # repetition 1
    assert paths[8:11] == [(CORE, "full", 1), (TRAINER_BEST, "full", 1), (TRAINER, "full", 1)]  # 2: reversed
    trainer_runs = [r for r in report.runs if r.path == TRAINER]
    assert [r.dev_score is None for r in trainer_runs] == [False, False, True, True]  # later repetitions time only
    assert trainer_runs[0].samples == 96 - 16 and trainer_runs[2].samples == 16  # the first step is not timed
    best_runs = [r for r in report.runs if r.path == TRAINER_BEST]
    assert len(best_runs) == 4 and all(r.dev_score is not None and r.samples == 96 - 16 for r in best_runs)
    assert all(r.samples_per_second > 0 and r.peak_memory_bytes > 0 for r in report.runs)
    assert [s.strategy for s in report.strategies] == ["full", "frozen"]
    assert report.frozen_cache.dev_cached == report.frozen_cache.dev_no_cache
    assert len(report.flops.matmul_flops_per_second) == 2 and "full" in report.flops.per_strategy
    assert (tmp_path / "smoke.json").is_file() and "| full |" in (tmp_path / "smoke.md").read_text()


def test_a_local_task_loads_and_tokenises_without_the_datasets_library(tiny_model, data_dir):
    """The GPU machine has no datasets library: a local task's files become peftbench.columns.Columns, which the
    core tokenises and the Trainer path pads only when asked; only a hub task needs the library."""
    script = f"""
import sys
sys.modules["datasets"] = None  # importing it now fails, as on a machine without it
from peftbench.data import encode_split
from peftbench.models import load_tokenizer
from peftbench.tasks import TaskRequest, load_task
data = load_task(TaskRequest("sst2", {data_dir!r}, train_size=40, seed=3, carve_size=16))
tokenizer = load_tokenizer({tiny_model!r})
assert len(encode_split(data.train, data.spec, tokenizer, 64)) == 40 and len(data.test) == 32
print("ok", type(data.train).__name__)
"""
    process = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.returncode == 0 and process.stdout.split() == ["ok", "Columns"], process.stderr
    from peftbench.models import load_tokenizer

    data = load_task(TaskRequest("sst2", data_dir, train_size=40, seed=3))
    tokenizer = load_tokenizer(tiny_model)
    padded = tokenized_rows(data.train, ("sentence",), tokenizer, 16, pad=True)
    dynamic = tokenized_rows(data.train, ("sentence",), tokenizer, 16, pad=False)
    assert {len(row["input_ids"]) for row in padded} == {16}
    assert [sum(row["attention_mask"]) for row in padded] == [len(row["input_ids"]) for row in dynamic]
    assert min(len(row["input_ids"]) for row in dynamic) < 16
    assert [row["label"] for row in padded] == [row["label"] for row in dynamic] == data.train["label"]


def test_ablation_pads_each_variant_as_it_says_and_writes_its_table(tiny_model, data_dir, tmp_path):
    """Padded-to-max computes max_length per sample; dynamic padding less; length grouping no more than
    dynamic padding on the same rows; fused AdamW batches exactly as length grouping does."""
    from benchmarks.ablation import VARIANTS, main

    results = main(["--model", tiny_model, "--data-dir", data_dir, "--train-size", "96", "--batch-size", "8",
                    "--batches", "12", "--reps", "2", "--max-length", "32", "--out", str(tmp_path)])
    by_name = {r.name: r for r in results}
    assert [r.name for r in results] == list(VARIANTS)
    assert all(len(r.samples_per_second) == 2 and min(r.samples_per_second) > 0 for r in results)
    assert by_name["padded-to-max"].computed_tokens_per_sample == 32
    # 12 batches of 8 are all 96 rows, so every variant trains on the same rows
    assert len({round(r.real_tokens_per_sample, 6) for r in results}) == 1
    assert (by_name["length-grouped"].computed_tokens_per_sample <= by_name["dynamic-pad"].computed_tokens_per_sample
            < 32)
    assert by_name["fused-adamw"].computed_tokens_per_sample == by_name["length-grouped"].computed_tokens_per_sample
    table = (tmp_path / "ablation-sst2-cpu.md").read_text()
    assert all(f"| {name} |" in table for name in VARIANTS)
    assert json.loads((tmp_path / "ablation-sst2-cpu.json").read_text())["variants"][0]["name"] == "padded-to-max"


def test_gpu_check_cpu_fallback_runs_from_packed_assets(tmp_path, data_dir):
    """The GPU check's path without a GPU: assets packed (MiniLM as fp16, SST-2) and checked against their
    manifest, MiniLM unpacked to fp32 within fp16 rounding, one step run as a ``benchmarks.run``
    subprocess, its verdict and tables written. Missing or altered assets refuse it with exit code 2."""
    from safetensors.torch import load_file

    from benchmarks.gpu_check import main, unpack_minilm
    from benchmarks.pack_gpu_assets import pack
    from tests.conftest import packaged_model_dir

    assets, out = tmp_path / "assets", tmp_path / "out"
    manifest = pack(assets, data_dir)
    assert manifest["fp16_max_relative_error"] < 1e-3 and 40 < manifest["total_mib"] < 50
    original = load_file(packaged_model_dir() / "model.safetensors")
    unpacked = load_file(unpack_minilm(assets, tmp_path / "models") / "model.safetensors")
    assert unpacked.keys() == original.keys()
    for name, tensor in original.items():
        torch.testing.assert_close(unpacked[name], tensor, rtol=1e-3, atol=1e-4, msg=name)  # dtypes too

    step = "sst2-cpu-fallback-random-fp32"
    arguments = ["--device", "cpu", "--out", str(out), "--steps", step]
    dev = assets / "sst2" / "dev.tsv"
    packed_dev = dev.read_text(encoding="utf-8")
    for broken in (tmp_path / "nothing-packed", assets):
        if broken == assets:
            dev.write_text("sentence\tlabel\nchanged\t1\n", encoding="utf-8")
        with pytest.raises(SystemExit) as refused:
            main([*arguments, "--assets", str(broken)])
        assert refused.value.code == 2 and not (out / "gpu_check.md").exists()
    dev.write_text(packed_dev, encoding="utf-8")
    assert main([*arguments, "--assets", str(assets)]) == 0
    report = json.loads((out / f"{step}.json").read_text())
    assert report["settings"]["device"] == "cpu"
    assert (report["settings"]["train_size"], report["settings"]["dev_size"]) == (48, 32)
    assert sorted({r["path"] for r in report["runs"]}) == [CORE, TRAINER, TRAINER_BEST]
    assert all(r["samples"] > 0 and r["dev_score"] is not None for r in report["runs"])
    summary = (out / "gpu_check.md").read_text()
    assert f"| {step}: " in summary and "| complete |" in summary and "### core vs transformers.Trainer" in summary
    assert (out / "gpu_check.log").read_text().count("===== ") == 1

    # the step profile from the same assets: on the CPU there are no GPU kernels to count, only the steps' time
    from benchmarks.step_profile import main as profile_steps

    profiles = profile_steps(["--device", "cpu", "--assets", str(assets), "--encoders", "minilm", "--strategies", "lora",
                              "--warmup", "32", "--steps", "2", "--batch-size", "16", "--out", str(out)])
    assert [(p.encoder, p.strategy, p.steps, p.kernels_per_step) for p in profiles] == [("minilm", "lora", 2, 0.0)]
    assert profiles[0].wall_ms_per_step > 0
    assert json.loads((out / "step_profile.json").read_text())[0]["wall_ms_per_step"] == profiles[0].wall_ms_per_step
    assert "| minilm | lora | fp32 | 16 |" in (out / "step_profile.md").read_text()
    with pytest.raises(SystemExit) as refused:  # an unknown encoder is refused, not profiled as a random bert-base
        profile_steps(["--device", "cpu", "--assets", str(assets), "--encoders", "minilm,bert-large"])
    assert refused.value.code == 2


def test_the_gpu_comparison_cpu_fallback_runs_from_the_packed_assets(data_dir, tmp_path):
    """benchmarks.gpu_compare, the comparison the lent GPU runs, on its CPU fallback from the carried pack: a
    real runners.compare subprocess per worker count, its results read back and archived, exit 0."""
    import tarfile

    from benchmarks.gpu_compare import main
    from benchmarks.pack_gpu_assets import pack

    assets, out = tmp_path / "assets", tmp_path / "out"
    pack(assets, data_dir)
    assert main(["--device", "cpu", "--assets", str(assets), "--out", str(out), "--phases", "measure",
                 "--strategies", "frozen,bitfit"]) == 0
    record = json.loads((out / "gpu_compare.json").read_text())
    [run] = record["runs"]
    assert (run["phase"], run["workers"], run["status"]) == ("measure", 1, "complete")
    assert set(run["strategies"]) == {"frozen", "bitfit"}
    assert all(s["seed_runs"] == 1 and s["heldout_mean"] is not None for s in run["strategies"].values())
    assert "| 1 | complete |" in (out / "gpu_compare.md").read_text()
    with tarfile.open(out / "runs.tar.gz") as archive:
        assert "measure-1/results.json" in archive.getnames()


def test_same_results_finds_a_changed_trial_and_seed_metric_and_ignores_times(tmp_path, capsys):
    """benchmarks.same_results (the check that a restructuring changed no result) passes a file against a copy with
    other times and paths, and names a changed trial value and seed-run metric."""
    from benchmarks.same_results import main as same_results

    example = Path(__file__).resolve().parents[1] / "docs" / "example-report" / "results.json"
    data = json.loads(example.read_text())
    full = data["strategies"]["full"]
    full["trials"][0]["duration_seconds"] += 5
    full["seed_runs"][0]["train_seconds"] += 5
    full["seed_runs"][0]["artifact_path"] = "elsewhere"
    (tmp_path / "times.json").write_text(json.dumps(data))
    assert same_results([str(example), str(tmp_path / "times.json")]) == 0
    full["trials"][1]["value"] = 0.5
    full["seed_runs"][2]["metrics"]["test"]["accuracy"] = 0.5
    (tmp_path / "changed.json").write_text(json.dumps(data))
    assert same_results([str(example), str(tmp_path / "changed.json")]) == 1
    out = capsys.readouterr().out
    assert "2 differ" in out and "full.trial 1.value" in out and "full.seed 2.metrics" in out
