"""The training core end to end on a tiny model: the result record, determinism, early stopping,
cached frozen features, length-grouped batches, saved artifacts and the callback hook."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from peftbench.config import TrainConfig
from peftbench.records import RunResult
from peftbench.schema import parse, to_json
from peftbench.data import collate, encode_split, length_grouped_batches
from peftbench.errors import TrainingDiverged, UserError
from peftbench.classifier import FeatureHead
from peftbench.models import load_tokenizer
from peftbench.tasks import TaskRequest, load_task
from peftbench.build import build_model
from peftbench.train import linear_warmup_decay
from peftbench.train import train as train_with
from strategies import STRATEGIES, get_strategy, load_trained


def config(tiny_model, data_dir, **overrides) -> dict:
    values = dict(task="sst2", model=tiny_model, data_dir=data_dir, batch_size=16, epochs=1, progress=False,
                  device="cpu", strategy="full")
    values.update(overrides)
    return values


def train(values: dict, **kwargs):
    """Train the strategy named in ``values`` (the rest is the TrainConfig)."""
    values = dict(values)
    strategy = get_strategy(values.pop("strategy"), values.pop("strategy_params", None))
    return train_with(TrainConfig(**values), strategy, **kwargs)


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_every_strategy_trains_and_reports_every_field(strategy, tiny_model, data_dir):
    result = train(config(tiny_model, data_dir, strategy=strategy, max_steps=3, eval_every=2))
    assert result.steps == 3 and result.train_samples_seen == 48
    assert [point["step"] for point in result.learning_curve] == [2, 3]
    assert set(result.metrics["dev"]) >= {"accuracy", "macro_f1", "precision", "recall", "mcc", "f1"}
    assert 0 <= result.score("dev") <= 1
    assert 0 < result.trainable_params <= result.total_params
    assert result.peak_memory_bytes > 0 and result.memory_kind == "cpu_peak_rss"
    assert result.train_seconds > 0 and result.train_samples_per_second > 0
    assert result.artifact_bytes > 4 * result.trainable_params * 0.99
    assert result.hyperparameters["lr"] == get_strategy(strategy).learning_rate.default
    assert set(result.versions) >= {"torch", "transformers", "peft", "bitsandbytes"}
    assert parse(RunResult, json.loads(json.dumps(to_json(result))), "a run record") == result


def test_pair_task_trains(tiny_model, data_dir):
    result = train(config(tiny_model, data_dir, task="rte", strategy="bitfit"))
    assert result.data_sizes == {"train": 48, "dev": 16} and result.task == "rte"


def test_same_seed_same_result_other_seed_other_result(tiny_model, data_dir, tmp_path):
    def run(seed, name):
        result = train(config(tiny_model, data_dir, strategy="lora", seed=seed, output_dir=str(tmp_path / name)))
        return result, load_file(str(tmp_path / name / "trained.safetensors"))

    first, first_weights = run(5, "a")
    again, again_weights = run(5, "b")
    _, other_weights = run(6, "c")
    assert first.metrics == again.metrics and first.learning_curve == again.learning_curve
    assert first_weights.keys() == other_weights.keys()
    assert all(torch.equal(first_weights[k], again_weights[k]) for k in first_weights)
    assert not all(torch.equal(first_weights[k], other_weights[k]) for k in first_weights)


def test_full_training_learns_the_toy_task(tiny_model, data_dir):
    result = train(config(tiny_model, data_dir, strategy="full", epochs=8, lr=1e-3, batch_size=8))
    assert result.score("dev") >= 0.9


def test_every_scored_row_keeps_its_prediction_and_they_give_the_metrics(tiny_model, data_dir):
    """RunResult.predictions: each dev and held-out row's predicted class, in row order, from the weights the
    metrics were computed with (dev: the best evaluation's), so the reports can resample rows."""
    data = load_task(TaskRequest("sst2", data_dir, carve_size=16, seed=0))
    result = train(config(tiny_model, data_dir, strategy="lora", max_steps=6, eval_every=2), data=data)
    for split, rows in (("dev", data.dev), ("test", data.test)):
        predicted = result.predictions[split]
        assert len(predicted) == len(rows) and set(predicted) <= {0, 1}
        accuracy = sum(p == label for p, label in zip(predicted, rows["label"])) / len(rows)
        assert accuracy == pytest.approx(result.metrics[split]["accuracy"])


def test_heldout_split_is_evaluated(tiny_model, data_dir):
    result = train(config(tiny_model, data_dir, strategy="frozen", carve_size=16))  # dev carved, the dev file held out
    assert set(result.metrics) == {"dev", "test"} and result.data_sizes["dev"] == 16 and result.data_sizes["test"] == 32


def test_callbacks_see_every_evaluation_and_can_stop_the_run(tiny_model, data_dir):
    seen = []

    class Stop(Exception):
        pass

    def callback(evaluation):
        seen.append(evaluation)
        if evaluation.step >= 4:
            raise Stop

    with pytest.raises(Stop):
        train(config(tiny_model, data_dir, strategy="bitfit", eval_every=2, epochs=3), callbacks=[callback])
    assert [e.step for e in seen] == [2, 4] and seen[1].samples_seen == 64
    assert seen[0].value == seen[0].metrics["accuracy"]
    assert not any(e.last for e in seen)  # stopped at step 4 of 18


def test_only_the_evaluation_on_the_final_step_is_marked_last(tiny_model, data_dir):
    seen = []
    train(config(tiny_model, data_dir, strategy="bitfit", eval_every=4, epochs=1), callbacks=[seen.append])
    assert [e.step for e in seen] == [4, 6] and [e.last for e in seen] == [False, True]


def test_early_stopping_keeps_the_best_weights(tiny_model, data_dir):
    result = train(config(tiny_model, data_dir, strategy="full", lr=0.5, epochs=6, eval_every=1, patience=2))
    assert result.stopped_early and result.steps < 36
    best = max(point["value"] for point in result.learning_curve)
    assert result.score("dev") == pytest.approx(best)


def test_diverging_loss_stops_with_a_reason(tiny_model, data_dir):
    with pytest.raises(TrainingDiverged, match="loss became"):
        train(config(tiny_model, data_dir, strategy="full", lr=1e12, epochs=8, batch_size=4, max_grad_norm=1e30))


def test_cached_frozen_features_give_the_live_encoder_logits(tiny_model, data_dir):
    from peftbench import features

    cfg = TrainConfig(task="sst2", model=tiny_model, data_dir=data_dir)
    model = build_model(cfg, get_strategy("frozen"), num_labels=2, total_steps=1).eval()
    tokenizer = load_tokenizer(tiny_model)
    data = load_task(TaskRequest("sst2", data_dir))
    split = encode_split(data.dev, data.spec, tokenizer, 128)
    cached, _ = features.pooled_features(model, tiny_model, {"dev": split}, tokenizer.pad_token_id, 8,
                                         torch.device("cpu"), __import__("contextlib").nullcontext)["dev"]
    inputs, _ = collate(split, list(range(len(split))), tokenizer.pad_token_id)
    with torch.no_grad():
        live = model(**inputs)
        from_cache = FeatureHead(model)(cached)
    torch.testing.assert_close(from_cache, live, rtol=1e-5, atol=1e-5)
    assert len(list(features.cache_dir().glob("*.safetensors"))) == 1
    model.train()
    assert not model.encoder.training, "a frozen encoder must not apply dropout"


def test_frozen_with_and_without_cache_agree(tiny_model, data_dir):
    cached = train(config(tiny_model, data_dir, strategy="frozen", epochs=2))
    live = train(config(tiny_model, data_dir, strategy="frozen", epochs=2, cache_features=False))
    assert cached.metrics["dev"]["accuracy"] == live.metrics["dev"]["accuracy"]


def test_length_grouping_covers_every_example_once_per_epoch():
    lengths = [(i * 37) % 50 + 1 for i in range(1000)]
    batches = length_grouped_batches(lengths, 16, seed=3)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(1000))
    assert batches == length_grouped_batches(lengths, 16, seed=3)
    assert batches != length_grouped_batches(lengths, 16, seed=4)
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded < 1.1 * sum(lengths)


@pytest.mark.parametrize("strategy", ["lora", "adapters", "bitfit", "qlora"])
def test_saved_artifact_reloads_to_identical_predictions(strategy, tiny_model, data_dir, tmp_path):
    cfg = config(tiny_model, data_dir, strategy=strategy, output_dir=str(tmp_path / "run"), lr=5e-3)
    result = train(cfg)
    assert (tmp_path / "run" / "trained.safetensors").stat().st_size == result.artifact_bytes
    model, tokenizer, _ = load_trained(str(tmp_path / "run"))
    data = load_task(TaskRequest("sst2", data_dir))
    split = encode_split(data.dev, data.spec, tokenizer, 128)
    inputs, labels = collate(split, list(range(len(split))), tokenizer.pad_token_id)
    with torch.no_grad():
        accuracy = (model(**inputs).argmax(-1) == labels).float().mean().item()
    assert math.isclose(accuracy, result.metrics["dev"]["accuracy"], abs_tol=1e-9)
    assert not list((tmp_path / "run").glob("*.bin")) and not list((tmp_path / "run").glob("*.pt"))


def test_artifact_sizes_rank_as_expected(tiny_model, data_dir):
    size = {s: train(config(tiny_model, data_dir, strategy=s, max_steps=1)).artifact_bytes
            for s in ("full", "lora", "frozen")}
    assert size["frozen"] < size["lora"] < size["full"]


@pytest.mark.parametrize("overrides,message", [
    ({"lr": -1.0}, "lr must be a positive number"),
    ({"batch_size": 0}, "batch size must be at least 1"),
    ({"warmup_ratio": 1.5}, "warmup ratio must be in"),
    ({"seed": -3}, r"seed must be an integer in \[0, 2\*\*32 - 1\]"),
    ({"device": "cuda:0"}, "no CUDA GPU"),
    ({"strategy": "lora", "strategy_params": {"rank": 0}}, "rank=0 is outside"),
    ({"model": "/nonexistent/model"}, "neither a local directory nor loadable"),
])
def test_impossible_configs_are_user_errors(tiny_model, data_dir, overrides, message):
    if overrides.get("device") == "cuda:0" and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(UserError, match=message):
        train(config(tiny_model, data_dir, **overrides))


def test_frozen_runs_are_charged_for_their_features_even_from_the_cache(tiny_model, data_dir):
    cold = train(config(tiny_model, data_dir, strategy="frozen"))
    warm = train(config(tiny_model, data_dir, strategy="frozen"))
    assert cold.feature_seconds > 0 and warm.feature_seconds == cold.feature_seconds
    train_share = cold.feature_seconds * 96 / (96 + 32)  # the train split's part of the extraction, roughly
    assert warm.train_seconds > 0.5 * train_share and warm.metrics == cold.metrics


@pytest.mark.parametrize("warmup, total", [(0, 10), (3, 10), (6, 100), (10, 10), (1, 1)])
def test_linear_warmup_decay_matches_transformers(warmup, total):
    from transformers import get_linear_schedule_with_warmup

    def learning_rates(make_scheduler) -> list[float]:
        optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=2e-3)
        scheduler = make_scheduler(optimizer, warmup, total)
        rates = []
        for _ in range(total + 2):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        return rates

    ours = learning_rates(linear_warmup_decay)
    assert ours == pytest.approx(learning_rates(get_linear_schedule_with_warmup), abs=1e-15)
    assert ours[total] == 0.0
    assert warmup >= total or ours[warmup] == pytest.approx(2e-3)  # the peak comes right after warmup


@pytest.mark.parametrize("strategy", ["full", "frozen", "lora", "adapters"])
def test_a_rescored_run_equals_training_again_with_the_heldout_split(strategy, tiny_model, data_dir, tmp_path):
    """What a seed run that repeats a tuning trial relies on: the trial (trained without the held-out split,
    weights saved) rescored on held-out gives the record a fresh run with the held-out split gives."""
    from dataclasses import replace

    from peftbench.train import rescore

    values = config(tiny_model, data_dir, strategy=strategy, carve_size=16, eval_every=2, max_steps=4)
    strategy_object = get_strategy(values.pop("strategy"))
    settings = TrainConfig(**values)
    data = load_task(settings.task_request())
    trial = train_with(replace(settings, output_dir=str(tmp_path / "trial")), strategy_object,
                       data=replace(data, test=None))
    fresh = train_with(replace(settings, output_dir=str(tmp_path / "fresh")), strategy_object, data=data)
    assert "test" not in trial.metrics and "test" in fresh.metrics
    rescored = rescore(replace(settings, output_dir=str(tmp_path / "trial")), strategy_object, trial, data)
    assert rescored.metrics == fresh.metrics and rescored.data_sizes == fresh.data_sizes
    assert rescored.learning_curve == fresh.learning_curve and rescored.trainable_params == fresh.trainable_params
    assert rescored.eval_seconds > trial.eval_seconds
