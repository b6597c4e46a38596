"""The comparison runner with the smoke preset on a tiny model: equal budgets, seed re-runs, resume
(also after a real SIGKILL), compute budgets, custom tasks and bad input."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import optuna
import pytest

from peftbench.exits import Exit
from peftbench.schema import SCHEMA_VERSION, to_json
from runners.compare import main
from tests.conftest import sentiment_rows, sst2_dir
from tests.test_cli_train import assert_one_line_error, run_cli

STRATEGIES = "frozen,lora,bitfit"
STRATEGY_CLASSES = __import__("strategies").STRATEGIES


def compare_args(tiny_model, data_dir, out, *extra) -> list[str]:
    return ["--task", "sst2", "--preset", "smoke", "--model", tiny_model, "--data-dir", data_dir,
            "--out", str(out), "--strategies", STRATEGIES, "--quiet", "--no-report", *extra]


def counted(out: Path) -> dict[str, int]:
    """Finished trials per study, straight from the SQLite storage."""
    with sqlite3.connect(out / "optuna.db") as db:
        rows = db.execute("SELECT s.study_name, t.state, COUNT(*) FROM trials t JOIN studies s "
                          "ON s.study_id = t.study_id GROUP BY s.study_name, t.state").fetchall()
    return {f"{name}:{state}": count for name, state, count in rows}


@pytest.fixture(scope="module")
def finished(tiny_model, data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "run"
    assert main(compare_args(tiny_model, data_dir, out, "--trials", "3", "--seeds", "2")) == 0
    return out


def test_every_strategy_gets_the_same_budget_and_its_seed_runs(finished):
    results = json.loads((finished / "results.json").read_text())
    assert results["schema_version"] == SCHEMA_VERSION and results["complete"] and results["partial"] == []
    assert results["budget"] == {"kind": "trials", "per_strategy": 3}
    for name in STRATEGIES.split(","):
        record = results["strategies"][name]
        assert record["info"] == to_json(STRATEGY_CLASSES[name].info())
        assert all(r["strategy_info"] == record["info"] for r in record["seed_runs"])
        assert record["status"] == "done"
        assert len(record["trials"]) == 3 and record["spent"]["trials"] == 3
        assert all(t["state"] in ("COMPLETE", "PRUNED") for t in record["trials"])
        assert record["best"]["value"] == max(t["value"] for t in record["trials"] if t["state"] == "COMPLETE")
        runs = record["seed_runs"]
        assert sorted(r["seed"] for r in runs) == [0, 1]
        assert all(set(r["metrics"]) == {"dev", "test"} for r in runs)
        assert all(r["hyperparameters"]["lr"] == record["best"]["params"]["lr"] for r in runs)
        assert all(r["data_sizes"] == {"train": 64, "dev": 32, "test": 32} for r in runs)
        # the smoke preset evaluates twice per epoch, the second time on the epoch's last step
        assert all([p["step"] for p in r["learning_curve"]][-1] == r["steps"] for r in runs)
        assert all(len(r["learning_curve"]) == 2 * r["hyperparameters"]["epochs"] for r in runs)


def test_trials_never_see_the_heldout_split(finished):
    study = optuna.load_study(study_name="sst2-tiny-bert0-lora-smoke", storage=f"sqlite:///{finished}/optuna.db")
    for trial in study.trials:
        assert trial.intermediate_values and trial.user_attrs["samples_seen"] > 0
        assert "result" not in trial.user_attrs  # only seed runs store records with held-out metrics
        if "run_record" in trial.user_attrs:  # a completed trial's own record, kept for the seed run repeating it
            assert set(trial.user_attrs["run_record"]["metrics"]) == {"dev"}


def test_the_seed_run_repeating_the_best_trial_is_that_trial_rescored(finished):
    """Seed runs train with seeds 0..n-1 and tuning trials with the data seed (0): the seed-0 run of the best
    configuration is the best trial itself, scored on held-out instead of trained again (peftbench.train.rescore;
    tests/test_train.py checks that this equals training again). Its weights are where a seed run's go, and
    the tuning trials' weights are gone once the seed runs are done."""
    results = json.loads((finished / "results.json").read_text())
    for name in STRATEGIES.split(","):
        record = results["strategies"][name]
        runs = {run["seed"]: run for run in record["seed_runs"]}
        assert runs[0]["repeats_trial"] == record["best"]["trial"] and runs[1]["repeats_trial"] is None
        assert runs[0]["metrics"]["dev"]["accuracy"] == record["best"]["value"]
        best = next(t for t in record["trials"] if t["number"] == record["best"]["trial"])
        assert [[point["samples"], point["value"]] for point in runs[0]["learning_curve"]] == best["intermediate"]
        assert (finished / "models" / name / "seed-0" / "trained.safetensors").is_file()
    assert not (finished / "trials").exists() or not any((finished / "trials").iterdir())


def test_rerunning_the_same_command_resumes_without_repeating(finished, tiny_model, data_dir):
    before = counted(finished)
    assert main(compare_args(tiny_model, data_dir, finished, "--trials", "3", "--seeds", "2")) == 0
    assert counted(finished) == before


def test_a_larger_budget_adds_only_the_missing_trials(finished, tiny_model, data_dir, tmp_path):
    import shutil

    out = tmp_path / "grown"
    shutil.copytree(finished, out)
    assert main(compare_args(tiny_model, data_dir, out, "--trials", "4", "--seeds", "3")) == 0
    results = json.loads((out / "results.json").read_text())
    for record in results["strategies"].values():
        assert len(record["trials"]) == 4
        assert sorted(r["seed"] for r in record["seed_runs"]) == [0, 1, 2]


def test_a_sample_budget_is_spent_and_recorded(tiny_model, data_dir, tmp_path):
    out = tmp_path / "samples"
    assert main(compare_args(tiny_model, data_dir, out, "--budget-kind", "samples", "--budget", "150",
                             "--seeds", "1", "--strategies", "frozen,bitfit")) == 0
    results = json.loads((out / "results.json").read_text())
    for record in results["strategies"].values():
        spent = record["spent"]["samples"]
        per_trial = [t["samples_seen"] for t in record["trials"]]
        assert spent == sum(per_trial) >= 150
        assert spent - per_trial[-1] < 150  # the last trial started while budget was left


def test_custom_csv_task(tiny_model, tmp_path):
    path = tmp_path / "reviews.csv"
    rows = sentiment_rows(160, 7)
    path.write_text("review,stars\n" + "".join(f'"{text}",{"good" if label else "bad"}\n' for text, label in rows))
    out = tmp_path / "custom"
    assert main(["--task", str(path), "--label-column", "stars", "--preset", "smoke", "--model", tiny_model,
                 "--out", str(out), "--strategies", "frozen", "--trials", "2", "--seeds", "1", "--quiet",
                 "--no-report"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["task"]["name"] == "reviews" and results["task"]["sizes"]["test"] == 32
    assert results["task"]["splits"] == {"dev": "carved from train", "heldout": "carved from train", "seed": 0}


def test_sigkill_during_a_trial_then_rerun_finishes_without_repeats(tiny_model, tmp_path):
    """A real process killed with SIGKILL while a trial runs; the rerun completes the budget exactly."""
    import signal
    import subprocess
    import sys

    data = sst2_dir(tmp_path / "glue", 1200)
    out = tmp_path / "killed"
    args = ["--task", "sst2", "--preset", "smoke", "--model", tiny_model, "--data-dir", data, "--out", str(out),
            "--strategies", "full", "--trials", "3", "--seeds", "2", "--train-size", "1000", "--quiet", "--no-report"]
    root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen([sys.executable, "-m", "runners.compare", *args], cwd=root,
                               env={**__import__("os").environ, "PYTHONPATH": str(root)})
    deadline = time.time() + 240
    while time.time() < deadline:
        time.sleep(0.2)
        try:
            states = counted(out)
        except sqlite3.Error:
            continue
        if states.get("sst2-tiny-bert0-full-smoke:COMPLETE", 0) >= 1 and "sst2-tiny-bert0-full-smoke:RUNNING" in states:
            break
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed = counted(out)
    assert killed.get("sst2-tiny-bert0-full-smoke:RUNNING") == 1, killed

    assert main(args) == 0
    after = counted(out)
    assert after["sst2-tiny-bert0-full-smoke:COMPLETE"] + after.get("sst2-tiny-bert0-full-smoke:PRUNED", 0) == 3
    assert after["sst2-tiny-bert0-full-smoke:FAIL"] == 1  # the killed trial, its slot run again
    assert killed["sst2-tiny-bert0-full-smoke:COMPLETE"] <= after["sst2-tiny-bert0-full-smoke:COMPLETE"]
    assert after["sst2-tiny-bert0-full-smoke-seeds:COMPLETE"] == 2


@pytest.mark.parametrize("extra,fragment", [
    (["--strategies", "full,lorax"], "unknown strategy or group 'lorax' in --strategies"),
    (["--trials", "0"], "--trials: must be a positive integer"),
    (["--budget-kind", "samples"], "--budget-kind samples needs --budget N"),
    (["--budget", "0"], "--budget: must be a positive finite number"),
    (["--storage", "postgresql://peft:s3cret@127.0.0.1:9/nowhere"], "cannot open storage postgresql://peft:***@"),
    (["--preset", "huge"], "argument --preset: invalid choice"),
])
def test_bad_input_is_one_line_and_exit_2(extra, fragment, tmp_path, tiny_model, data_dir):
    process = run_cli("runners.compare", *compare_args(tiny_model, data_dir, tmp_path / "bad"), *extra)
    assert_one_line_error(process, fragment)
    assert "s3cret" not in process.stderr
    assert not (tmp_path / "bad" / "results.json").exists()


def test_a_directory_holding_another_comparison_is_refused(finished, tiny_model, data_dir):
    process = run_cli("runners.compare", *compare_args(tiny_model, data_dir, finished), "--task", "rte")
    assert_one_line_error(process, "holds a comparison of task 'sst2', not 'rte'")


def test_pair_task_rte(tiny_model, data_dir, tmp_path):
    out = tmp_path / "rte"
    assert main(["--task", "rte", "--preset", "smoke", "--model", tiny_model, "--data-dir", data_dir, "--out", str(out),
                 "--strategies", "frozen,bitfit", "--trials", "2", "--seeds", "2", "--carve-size", "8",
                 "--train-size", "40", "--quiet", "--no-report"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["task"]["name"] == "rte" and results["task"]["sizes"] == {"train": 40, "dev": 8, "test": 16}
    assert all(len(r["seed_runs"]) == 2 for r in results["strategies"].values())


def test_importance_leaves_out_values_that_were_not_searched():
    """A single-choice value (the quick preset's batch size) is not a hyperparameter of the search."""
    from studies.results import importance

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: t.suggest_float("lr", 1e-5, 1e-3, log=True) * 0 + t.suggest_float("decay", 0, 1)
                   + t.suggest_categorical("batch_size", [32]), n_trials=12)
    found = importance(study)
    assert set(found) == {"lr", "decay"} and found["decay"] > found["lr"]
    constant = optuna.create_study()
    constant.optimize(lambda t: t.suggest_categorical("batch_size", [32]), n_trials=3)
    assert importance(constant) is None


def test_the_first_trial_of_every_study_runs_the_strategys_defaults(finished):
    """A small budget always includes the configuration known to work; the search has to beat it."""
    from studies import space

    for name in STRATEGIES.split(","):
        study = optuna.load_study(study_name=f"sst2-tiny-bert0-{name}-smoke", storage=f"sqlite:///{finished}/optuna.db")
        first = min(study.trials, key=lambda t: t.number)
        assert first.params == space.defaults(STRATEGY_CLASSES[name], (16, 32), 1)
        assert first.params["lr"] == STRATEGY_CLASSES[name].learning_rate.default
        assert all(t.params != first.params for t in study.trials if t.number != first.number)


@pytest.mark.parametrize("name", list(__import__("strategies").STRATEGIES))
def test_defaults_lie_inside_the_searched_ranges(name):
    from studies import space

    strategy = STRATEGY_CLASSES[name]
    params = space.defaults(strategy, (16, 32, 64), 3)
    assert params["epochs"] == 3 and params["batch_size"] == 32
    for hyperparameter in (strategy.learning_rate, space.WARMUP, space.WEIGHT_DECAY, *strategy.hyperparameters):
        hyperparameter.check(params[hyperparameter.name])


def test_successive_halving_keeps_a_trial_only_in_the_best_third_at_its_first_evaluation(tiny_model, data_dir, tmp_path):
    """The default pruner, through Optuna's own SuccessiveHalvingPruner: its rung is a trial's first dev evaluation
    (the smoke preset, 64 examples, batch 16: after 2 of 4 steps, 32 samples); there a trial goes on only if it is
    in the best third of the trials that reached it (while fewer than three have, only the best so far goes on)."""
    from runners.compare import build_parser, settings_from_args
    from studies.compare import DEFAULT_PRUNER, PRUNED_BELOW, Comparison

    settings = settings_from_args(build_parser().parse_args(compare_args(tiny_model, data_dir, tmp_path / "out")))
    assert settings.pruner == DEFAULT_PRUNER == "halving" and "successive halving" in PRUNED_BELOW["halving"]
    comparison = Comparison(settings, optuna.storages.InMemoryStorage())
    first = comparison.base_config({"lr": 1e-4, "batch_size": 16, "warmup_ratio": 0.0, "weight_decay": 0.0}, seed=0)
    assert first.eval_every * first.batch_size == 32
    study = optuna.create_study(direction="maximize", pruner=comparison.pruner())

    def reaches(value: float, samples: int = 32) -> bool:
        """Whether a new trial that reports ``value`` after ``samples`` samples is pruned."""
        trial = study.ask()
        trial.report(value, samples)
        pruned = trial.should_prune()
        study.tell(trial, state=optuna.trial.TrialState.PRUNED if pruned else optuna.trial.TrialState.COMPLETE,
                   values=None if pruned else value)
        return pruned

    assert not reaches(0.70, samples=16)  # before the rung nothing is judged
    assert not reaches(0.80)  # the first at the rung goes on
    assert reaches(0.79)  # of two, only the better goes on
    assert not reaches(0.85)  # the best of three goes on
    assert reaches(0.84)  # of four, the best one (4 // 3) goes on
    assert not reaches(0.85)  # ties with the best go on


def test_a_trial_that_trained_to_its_end_is_complete_never_pruned(finished):
    """Pruning stops a trial early to save compute; at its last evaluation there is nothing left to save."""
    for name in STRATEGIES.split(","):
        study = optuna.load_study(study_name=f"sst2-tiny-bert0-{name}-smoke", storage=f"sqlite:///{finished}/optuna.db")
        for trial in study.trials:
            if trial.state == optuna.trial.TrialState.PRUNED:
                assert max(trial.intermediate_values) < 64 * trial.params.get("epochs", 1)


def test_the_first_seed_run_of_each_strategy_records_its_inference_cost(finished):
    """Timed once per strategy (inference cost does not depend on the seed), on the seed-0 run's trained model;
    the report shows it and the recommender reads it."""
    results = json.loads((finished / "results.json").read_text())
    for name in STRATEGIES.split(","):
        runs = {run["seed"]: run for run in results["strategies"][name]["seed_runs"]}
        assert runs[1]["inference"] is None
        cost = runs[0]["inference"]
        assert cost["examples"] == 32 and cost["batch_size"] == 32 and cost["as_trained"]["latency_ms"] > 0
        if name == "lora":  # peft merges LoRA: timed both ways, with the same predictions
            assert cost["merged"]["latency_ms"] > 0 and cost["predictions_equal"] is True
        else:
            assert cost["merged"] is None and cost["merge_note"].startswith("nothing to merge")
    process = run_cli("runners.recommend", str(finished), "--max-latency", "10s", "--prefer", "latency")
    # whether the tiny random model learned anything is beside the point here: any answer but an error
    assert process.returncode in (Exit.OK, Exit.UNDETERMINED, Exit.NOTHING_LEARNED), process.stderr
    assert "Constraints: inference latency per example (batch 1) ≤ 10,000 ms." in process.stdout


def test_min_steps_repeats_epochs_on_a_small_training_set(tiny_model, data_dir, tmp_path):
    """32 examples are 1 or 2 batches (smoke preset: batch 16 or 32); --min-steps 4 repeats the epoch until a run
    takes 4 optimiser steps, still evaluating twice per searched epoch (the pruning points)."""
    out = tmp_path / "few"
    assert main(compare_args(tiny_model, data_dir, out, "--strategies", "lora", "--trials", "2", "--seeds", "2",
                             "--train-size", "32", "--min-steps", "4")) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["min_steps"] == 4
    runs = results["strategies"]["lora"]["seed_runs"]
    for run in runs:
        batch = run["hyperparameters"]["batch_size"]
        assert run["steps"] == 4 and run["hyperparameters"]["epochs"] == 4 // (32 // batch)
        assert [point["step"] for point in run["learning_curve"]] == [2, 4]
    assert all(t["samples_seen"] == 4 * t["params"]["batch_size"] for t in results["strategies"]["lora"]["trials"]
               if t["state"] == "COMPLETE")
