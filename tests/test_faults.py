"""Faults inside a comparison: out of memory, a diverging loss, and failing trials are recorded with
their reason and the study goes on; none of them can become the best trial."""

from __future__ import annotations

import json

import optuna
from optuna.trial import TrialState

from peftbench.config import TrainConfig
from peftbench.errors import MemoryCapExceeded
from peftbench.exits import Exit
from runners.compare import main
from studies import queue
from studies.compare import Comparison, ComparisonSettings
from studies.presets import resolve_preset
from strategies.full import Full


def smoke_settings(tiny_model, data_dir, **overrides) -> ComparisonSettings:
    preset = resolve_preset("smoke", {"model": tiny_model})
    run = TrainConfig(task="sst2", model=tiny_model, data_dir=data_dir, train_size=preset.train_size,
                      carve_size=preset.carve_size, max_length=preset.max_length, progress=False, device="cpu")
    values = dict(run=run, preset=preset, strategies=[Full], budget=3, seeds=1)
    values.update(overrides)
    return ComparisonSettings(**values)


def test_memory_cap_fails_every_trial_with_a_reason_and_the_comparison_ends(tiny_model, data_dir, tmp_path):
    out = tmp_path / "capped"
    assert main(["--task", "sst2", "--preset", "smoke", "--model", tiny_model, "--data-dir", data_dir, "--out",
                 str(out), "--strategies", "bitfit", "--trials", "2", "--memory-cap-mb", "1", "--quiet",
                 "--no-report"]) == Exit.PARTIAL
    record = json.loads((out / "results.json").read_text())["strategies"]["bitfit"]
    assert record["status"] == "failed" and record["best"] is None and record["seed_runs"] == []
    assert [t["state"] for t in record["trials"]] == ["FAIL", "FAIL"]
    assert all(t["reason"].startswith("out of memory: process memory") for t in record["trials"])


def test_diverging_and_crashing_trials_are_recorded_and_never_best(tiny_model, data_dir):
    settings = smoke_settings(tiny_model, data_dir)
    comparison = Comparison(settings, optuna.storages.InMemoryStorage())
    study = comparison.tuning_study(Full)

    def diverging(trial):
        config = comparison.base_config({"lr": 1e12, "batch_size": 4, "warmup_ratio": 0.0, "weight_decay": 0.0},
                                        seed=0)
        config.max_grad_norm = 1e30
        config.epochs = 4
        from peftbench.train import train

        train(config, Full(), data=comparison.tuning_data)
        return 1.0

    def out_of_memory(trial):
        raise MemoryCapExceeded("simulated cap")

    comparison.execute(study, queue.claim(study, comparison.storage), diverging, "trial")
    comparison.execute(study, queue.claim(study, comparison.storage), out_of_memory, "trial")
    comparison.execute(study, queue.claim(study, comparison.storage), lambda trial: 0.25, "trial")
    states = [t.state for t in study.trials]
    assert states == [TrialState.PRUNED, TrialState.FAIL, TrialState.COMPLETE]
    assert study.trials[0].user_attrs["reason"].startswith("diverged: loss became")
    assert study.trials[1].user_attrs["reason"] == "out of memory: simulated cap"
    assert study.best_trial.number == 2
    assert comparison.spent(study)["trials"] == 3  # failed trials used their budget slot
