"""``runners.compare --log-to tensorboard,mlflow``: a smoke comparison's TensorBoard event files and MLflow
runs, read back through the libraries' own readers, hold exactly what ``results.json`` records; a resume
logs nothing twice and fills in what a tracker lacks; a tracker that cannot be used is refused up front."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from peftbench.errors import UserError
from runners.compare import main
from studies.trackers import KEY_TAG, default_mlflow_uri
from tests.test_cli_train import ROOT, assert_one_line_error, run_cli

STRATEGIES = ("frozen", "lora")


def compare_args(tiny_model: str, data_dir: str, out: Path, *extra: str) -> list[str]:
    return ["--task", "sst2", "--preset", "smoke", "--model", tiny_model, "--data-dir", data_dir, "--out", str(out),
            "--strategies", ",".join(STRATEGIES), "--trials", "2", "--seeds", "2", "--quiet", "--no-report", *extra]


@pytest.fixture(scope="module")
def logged(tiny_model, data_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("trackers") / "run"
    assert main(compare_args(tiny_model, data_dir, out, "--log-to", "tensorboard,mlflow")) == 0
    return out


def expected_runs(out: Path) -> dict[str, dict]:
    """What every tracker should hold, keyed by run path, from results.json alone."""
    results = json.loads((out / "results.json").read_text())
    metric = results["task"]["metric"]
    runs = {}
    for name, record in results["strategies"].items():
        for trial in record["trials"]:
            final = {f"final/dev_{metric}": trial["value"]} if trial["state"] == "COMPLETE" else {}
            runs[f"{name}/trial-{trial['number']}"] = {
                "kind": "tuning trial", "strategy": name, "trial_number": trial["number"], "params": trial["params"],
                "curve": [(step, value) for step, value in trial["intermediate"]], "final": final}
        for run in record["seed_runs"]:
            final = {f"final/{'heldout' if split == 'test' else split}_{key}": value
                     for split, scores in run["metrics"].items() for key, value in scores.items()}
            runs[f"{name}/seed-{run['seed']}"] = {
                "kind": "seed run", "strategy": name, "params": run["hyperparameters"], "final": final,
                "curve": [(point["samples"], point["value"]) for point in run["learning_curve"]],
                "costs": {f"cost/{key}": run[key] for key in
                          ("train_seconds", "peak_memory_bytes", "trainable_params", "train_samples_per_second")}}
    return runs


def tensorboard_runs(root: Path) -> dict[str, EventAccumulator]:
    found = {}
    for events in root.glob("**/events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events.parent))
        accumulator.Reload()
        found[events.parent.relative_to(root).as_posix()] = accumulator
    return found


def hparams_of(accumulator: EventAccumulator) -> dict:
    content = accumulator.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    return {key: getattr(value, value.WhichOneof("kind")) for key, value in start.hparams.items()}


def mlflow_runs(out: Path) -> dict:
    client = MlflowClient(tracking_uri=default_mlflow_uri(out))
    experiment = client.get_experiment_by_name("sst2-tiny-bert0-smoke")  # <task>-<model>-<preset>
    return client, {run.info.run_name: run for run in client.search_runs([experiment.experiment_id])}


def test_tensorboard_holds_every_run_as_results_json_records_it(logged):
    expected = expected_runs(logged)
    assert sum(run["kind"] == "seed run" for run in expected.values()) == 2 * len(STRATEGIES)
    assert sum(run["kind"] == "tuning trial" for run in expected.values()) == 2 * len(STRATEGIES)
    found = tensorboard_runs(logged / "tensorboard")
    assert sorted(found) == sorted(expected)
    for path, want in expected.items():
        accumulator = found[path]
        curve = [(event.step, event.value) for event in accumulator.Scalars("curve/dev_accuracy")]
        assert [step for step, _ in curve] == [step for step, _ in want["curve"]]
        # TensorBoard stores scalars as 32-bit floats
        assert [value for _, value in curve] == pytest.approx([value for _, value in want["curve"]], rel=1e-6)
        for name, value in {**want["final"], **want.get("costs", {})}.items():
            assert accumulator.Scalars(name)[-1].value == pytest.approx(value, rel=1e-6), (path, name)
        hparams = hparams_of(accumulator)
        assert hparams["tag/strategy"] == want["strategy"] and hparams["tag/kind"] == want["kind"]
        if want["kind"] == "tuning trial":
            assert hparams["tag/optuna.trial_number"] == str(want["trial_number"])
        for name, value in want["params"].items():
            assert hparams[name] == (pytest.approx(value) if isinstance(value, (int, float)) else str(value))


def test_mlflow_holds_every_run_as_results_json_records_it(logged):
    expected = expected_runs(logged)
    client, found = mlflow_runs(logged)
    assert sorted(found) == sorted(expected)
    for path, want in expected.items():
        run = found[path]
        assert run.info.status == "FINISHED"
        assert run.data.tags["strategy"] == want["strategy"] and run.data.tags["kind"] == want["kind"]
        assert run.data.tags[KEY_TAG].startswith(run.data.tags["optuna.study"] + "#")
        if want["kind"] == "tuning trial":
            assert run.data.tags["optuna.trial_number"] == str(want["trial_number"])
        assert run.data.params == {name: str(value) for name, value in want["params"].items()}
        history = client.get_metric_history(run.info.run_id, "curve/dev_accuracy")
        assert [(point.step, point.value) for point in history] == want["curve"]
        for name, value in {**want["final"], **want.get("costs", {})}.items():
            assert run.data.metrics[name] == value, (path, name)


def test_a_resume_logs_nothing_twice_and_fills_in_what_a_tracker_lacks(logged, tiny_model, data_dir, tmp_path):
    out = tmp_path / "resumed"
    shutil.copytree(logged, out)
    shutil.rmtree(out / "tensorboard" / "lora" / "seed-1")  # as if a kill or an error had cut these short
    client, before = mlflow_runs(out)
    client.delete_run(before["frozen/trial-0"].info.run_id)
    trials_before = json.loads((out / "results.json").read_text())["strategies"]

    assert main(compare_args(tiny_model, data_dir, out, "--log-to", "tensorboard,mlflow")) == 0

    expected = expected_runs(out)
    assert json.loads((out / "results.json").read_text())["strategies"] == trials_before  # nothing trained again
    assert sorted(tensorboard_runs(out / "tensorboard")) == sorted(expected)
    _, after = mlflow_runs(out)
    assert sorted(after) == sorted(expected)  # each run once: search_runs leaves deleted runs out
    assert after["frozen/trial-0"].info.run_id != before["frozen/trial-0"].info.run_id
    assert all(after[path].info.run_id == before[path].info.run_id for path in expected if path != "frozen/trial-0")


def test_a_tracker_that_fails_rests_and_the_next_resume_logs_what_it_missed(logged, tiny_model, data_dir, tmp_path):
    out = tmp_path / "failing"
    shutil.copytree(logged, out)
    shutil.rmtree(out / "tensorboard")
    (out / "tensorboard").write_text("not a folder\n")  # every TensorBoard write now fails
    args = compare_args(tiny_model, data_dir, out, "--log-to", "tensorboard,mlflow", "--seeds", "3")

    assert main(args) == 0  # one more seed run per strategy, each stored and logged to MLflow
    expected = expected_runs(out)
    assert sum(run["kind"] == "seed run" for run in expected.values()) == 3 * len(STRATEGIES)
    assert (out / "compare.log").read_text().count("tensorboard could not") == 1  # it gave up at the first error
    assert sorted(mlflow_runs(out)[1]) == sorted(expected)

    (out / "tensorboard").unlink()
    assert main(args) == 0  # nothing left to train: the end of the comparison logs what TensorBoard missed
    assert expected_runs(out) == expected
    assert sorted(tensorboard_runs(out / "tensorboard")) == sorted(expected)


def test_a_tracker_that_is_not_installed_is_refused_in_one_line(tiny_model, data_dir, tmp_path):
    out = tmp_path / "refused"
    # a fresh interpreter in which importing mlflow fails, as where the extra is not installed
    hide = "import sys; sys.modules['mlflow'] = None; from peftbench import cli; from runners.compare import main; " \
           "cli.run_main(main)"
    process = subprocess.run([sys.executable, "-c", hide, *compare_args(tiny_model, data_dir, out, "--log-to", "mlflow")],
                             cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)},
                             capture_output=True, text=True, timeout=300)
    assert_one_line_error(process, "pip install -e '.[trackers]'")
    assert not out.exists()


@pytest.mark.parametrize("extra, fragment", [
    (("--log-to", "mlflow", "--mlflow-uri", "http://127.0.0.1:9"), "cannot reach --mlflow-uri http://127.0.0.1:9"),
    (("--mlflow-uri", "http://127.0.0.1:9"), "--mlflow-uri needs --log-to mlflow"),
])
def test_an_unusable_tracker_setting_is_refused_before_anything_is_written(tiny_model, data_dir, tmp_path, extra,
                                                                           fragment):
    out = tmp_path / "refused"
    with pytest.raises(UserError, match=fragment):
        main(compare_args(tiny_model, data_dir, out, *extra))
    assert not out.exists()


def test_an_unknown_tracker_is_a_one_line_usage_error(tmp_path):
    process = run_cli("runners.compare", "--task", "sst2", "--log-to", "tensorboard,wandb", "--out", str(tmp_path / "x"))
    assert_one_line_error(process, "trackers are tensorboard, mlflow, got 'tensorboard,wandb'")
    assert not (tmp_path / "x").exists()
