"""Multi-objective search within a strategy (``runners.compare --objectives``): a real smoke comparison's
Pareto set, its seed runs and its report checked against Optuna's own front and the stored trials; the
report's front across strategies and the recommender checked on fronts worked out by hand; bad
``--objectives`` refused in one line."""

from __future__ import annotations

import copy
import csv
import json

import optuna
import pytest

from peftbench.errors import UserError
from peftbench.pareto import spread
from peftbench.schema import load_results
from reports.pareto_sets import front_points
from peftbench.constraints import Constraints
from reports.recommend import recommend, render
from reports.render import write_report
from runners.compare import main
from studies.compare import FRONT_SEED_CONFIGS
from tests.fixtures.make_results import make_results, predict, write_run
from tests.test_cli_train import assert_one_line_error, run_cli

STUDY = "sst2-tiny-bert0-lora-smoke"


def mo_args(tiny_model, data_dir, out, *extra) -> list[str]:
    return ["--task", "sst2", "--preset", "smoke", "--model", tiny_model, "--data-dir", data_dir, "--out", str(out),
            "--strategies", "lora", "--objectives", "accuracy,trainable_params", "--trials", "6", "--seeds", "1",
            "--quiet", *extra]


@pytest.fixture(scope="module")
def front_run(tiny_model, data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("pareto") / "run"
    assert main(mo_args(tiny_model, data_dir, out)) == 0
    return out


def test_the_front_in_results_json_is_optunas_pareto_set_of_the_stored_trials(front_run):
    results = json.loads((front_run / "results.json").read_text())
    assert results["settings"]["cost_objectives"] == ["trainable_params"] and results["settings"]["pruner"] == "none"
    record = results["strategies"]["lora"]
    study = optuna.load_study(study_name=STUDY, storage=f"sqlite:///{front_run}/optuna.db")
    assert study.directions == [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE]
    assert len(record["trials"]) == 6 and all(t["state"] == "COMPLETE" for t in record["trials"])  # never pruned
    stored = {t.number: t for t in study.trials}
    for trial in record["trials"]:
        values = stored[trial["number"]].values
        assert trial["values"] == {"accuracy": values[0], "trainable_params": values[1]}
        assert trial["value"] == values[0]
    front = record["front"]
    assert {f["trial"] for f in front} == {t.number for t in study.best_trials}
    assert [f["values"] for f in front] == sorted((f["values"] for f in front),
                                                  key=lambda v: (-v["accuracy"], v["trainable_params"]))
    for entry in front:
        assert entry["values"] == next(t["values"] for t in record["trials"] if t["number"] == entry["trial"])
        assert entry["params"] == stored[entry["trial"]].params
        assert entry["strategy_params"] == {k: v for k, v in entry["params"].items()
                                            if k in ("rank", "alpha_ratio", "dropout", "targets")}
    assert record["best"] == {"trial": front[0]["trial"], "value": front[0]["values"]["accuracy"],
                              "params": front[0]["params"]}


def test_the_spread_of_the_front_gets_seed_runs_of_its_own_configuration(front_run):
    record = json.loads((front_run / "results.json").read_text())["strategies"]["lora"]
    front = record["front"]
    chosen = {front[i]["trial"] for i in spread(len(front), FRONT_SEED_CONFIGS)}
    assert record["status"] == "done" and record["seed_runs"] == front[0]["seed_runs"]
    for entry in front:
        runs = entry["seed_runs"]
        if entry["trial"] not in chosen:
            assert runs == []
            continue
        assert [r["seed"] for r in runs] == [0]
        run = runs[0]
        # the trial measured the same parameter count as the seed run: the cost is the configuration's own
        assert run["trainable_params"] == entry["values"]["trainable_params"]
        assert all(run["hyperparameters"][k] == v for k, v in entry["params"].items())
        assert (front_run / "models" / "lora" / f"trial-{entry['trial']}" / "seed-0" / "trained.safetensors").exists()


def test_the_report_draws_and_tabulates_the_front_of_results_json(front_run):
    results = json.loads((front_run / "results.json").read_text())
    front = results["strategies"]["lora"]["front"]
    report = front_run / "report"
    rows = list(csv.DictReader((report / "front.csv").open()))
    assert [int(r["trial"]) for r in rows] == [f["trial"] for f in front]
    for row, entry in zip(rows, front):
        assert float(row["dev_accuracy"]) == entry["values"]["accuracy"]
        assert int(float(row["trainable_params"])) == entry["values"]["trainable_params"]
        assert row["on_front_across_strategies"] == "True"  # one strategy, two objectives: its front is the front
        assert int(row["seeds"]) == len(entry["seed_runs"])
    for suffix in ("png", "pdf"):
        assert (report / f"pareto-params.{suffix}").stat().st_size > 1000
    text = (report / "report.md").read_text()
    assert "## Pareto sets (accuracy against trainable params)" in text
    assert text.count("(pareto-params.png)") == 1  # in its section, not again under Figures
    assert "Optuna cannot prune multi-objective studies" in text


def test_rerunning_resumes_the_multi_objective_comparison_without_repeating(front_run, tiny_model, data_dir):
    before = json.loads((front_run / "results.json").read_text())["strategies"]["lora"]
    assert main(mo_args(tiny_model, data_dir, front_run, "--no-report")) == 0
    after = json.loads((front_run / "results.json").read_text())["strategies"]["lora"]
    assert after["trials"] == before["trials"] and after["front"] == before["front"]


def test_a_stored_multi_objective_study_is_not_resumed_as_a_single_objective_one(front_run, tiny_model, data_dir):
    args = mo_args(tiny_model, data_dir, front_run, "--no-report")
    at = args.index("--objectives")
    del args[at:at + 2]
    with pytest.raises(UserError, match=f"study {STUDY} in this storage was run with "
                                        r"cost_objectives=\['trainable_params'\], not \[\]"):
        main(args)


@pytest.mark.parametrize("objectives,extra,fragment", [
    ("f1,trainable_params", [], "--objectives must start with the task's metric, 'accuracy', not 'f1'"),
    ("trainable_params,accuracy", [], "--objectives must start with the task's metric, then costs; got "
                                      "'trainable_params' first"),
    ("accuracy,flops", [], "--objectives: unknown objective 'flops'; after the task's metric come costs from "
                           "trainable_params, peak_memory, train_time"),
    ("accuracy,peak_memory,peak_memory", [], "--objectives names an objective twice"),
    ("accuracy,train_time", ["--pruner", "median"], "--pruner median: Optuna cannot prune multi-objective studies"),
])
def test_bad_objectives_are_refused_before_anything_is_written(objectives, extra, fragment, tiny_model, data_dir,
                                                                tmp_path):
    args = mo_args(tiny_model, data_dir, tmp_path / "bad", *extra)
    args[args.index("--objectives") + 1] = objectives
    with pytest.raises(UserError) as refused:
        main(args)
    assert fragment in str(refused.value) and "\n" not in str(refused.value)
    assert not (tmp_path / "bad").exists()


def test_a_bad_objective_is_one_line_and_exit_2_on_the_command_line(tiny_model, data_dir, tmp_path):
    args = mo_args(tiny_model, data_dir, tmp_path / "bad")
    args[args.index("--objectives") + 1] = "accuracy,flops"
    assert_one_line_error(run_cli("runners.compare", *args), "unknown objective 'flops'")
    assert not (tmp_path / "bad").exists()


# ----------------------------------------------------------------------------- fronts worked out by hand
# strategy → [(trial, dev accuracy, trainable params, held-out accuracy per seed or None: not re-run)]
FRONTS = {
    "lora": [(2, 0.86, 300_000, [0.850, 0.865, 0.870]), (5, 0.84, 150_000, [0.835, 0.840, 0.845]),
             (6, 0.82, 90_000, None), (7, 0.80, 40_000, [0.795, 0.800, 0.805])],
    "bitfit": [(1, 0.83, 30_000, [0.825, 0.830, 0.835])],
}
# by hand: bitfit (0.83, 30k) beats lora #7 (0.80, 40k) and lora #6 (0.82, 90k); the others no one beats
OVERALL = {("lora", 2), ("lora", 5), ("bitfit", 1)}


def hand_made_results() -> dict:
    results = make_results(strategies=("lora", "bitfit", "full"), seeds=3)
    results["settings"].update(cost_objectives=["trainable_params"], pruner="none")
    for name, entries in FRONTS.items():
        record = results["strategies"][name]
        template = record["seed_runs"][0]
        record["front"] = []
        for trial, dev, params, held_out in entries:
            hyper = {**record["trials"][0]["params"], "rank": trial} if name == "lora" else record["trials"][0]["params"]
            own = {"rank": trial} if name == "lora" else {}
            runs = []
            for seed, score in enumerate(held_out or []):
                run = copy.deepcopy(template)
                run.update(seed=seed, trainable_params=params, hyperparameters={**run["hyperparameters"], **hyper})
                predict(run, results["task"]["labels"], {"test": score, "dev": dev - 0.001 * seed})
                runs.append(run)
            record["front"].append({"trial": trial, "values": {"accuracy": dev, "trainable_params": params},
                                    "params": hyper, "strategy_params": own, "seed_runs": runs})
        record["seed_runs"] = record["front"][0]["seed_runs"]
        record["best"] = {"trial": entries[0][0], "value": entries[0][1], "params": record["front"][0]["params"]}
        for trial in record["trials"]:
            trial["values"] = {"accuracy": trial["value"], "trainable_params": entries[-1][2] * 2} \
                if trial["value"] is not None else None
    return results


@pytest.fixture(scope="module")
def hand_made(tmp_path_factory):
    return write_run(tmp_path_factory.mktemp("hand") / "run", hand_made_results())


def test_the_front_across_strategies_matches_the_hand_worked_one(hand_made):
    points = front_points(load_results(hand_made))
    assert {(p.strategy, p.config.trial) for p in points if p.overall} == OVERALL
    assert len(points) == 5  # full is single-objective here: no front of its own
    seven = next(p for p in points if p.config.trial == 7)
    assert seven.score.mean == pytest.approx(0.800) and seven.score.std == pytest.approx(0.005)
    assert next(p for p in points if p.config.trial == 6).score is None


def test_recommend_judges_each_re_run_configuration_and_names_it(hand_made):
    rec = recommend([load_results(hand_made)], Constraints(max_trainable_params=200_000))
    assert rec.best.strategy == "lora (trial 5)"  # 0.840 held-out at 150k; lora #2 needs 300k
    assert rec.best.score == pytest.approx(0.840)
    # bitfit's configuration (0.830 at 30k) is equivalent to it within 5 points and trains 80% fewer parameters
    assert rec.choice.strategy == "bitfit (trial 1)" and "bitfit (trial 1)" in [c.strategy for c in rec.equivalent]
    assert "trainable parameters 300k > 200k (--max-trainable-params)" in rec.ruled_out["lora (trial 2)"]
    assert "full" in rec.ruled_out  # 22.6M trainable parameters
    assert "lora (trial 6)" not in render(rec)  # no seed runs: not a candidate
    alike = recommend([load_results(hand_made)], Constraints(max_trainable_params=200_000), prefer="memory")
    text = render(alike)  # every configuration peaks at the same memory: the higher score
    assert alike.choice.strategy == "lora (trial 5)" and "**Use lora (trial 5)**" in text and "rank=5" in text
    loose = recommend([load_results(hand_made)], Constraints(max_trainable_params=35_000))
    assert loose.choice.strategy == "bitfit (trial 1)"


def test_the_report_of_a_hand_made_front(hand_made, tmp_path):
    write_report(hand_made, out=tmp_path / "report")
    rows = list(csv.DictReader((tmp_path / "report" / "front.csv").open()))
    assert [(r["strategy"], int(r["trial"]), r["on_front_across_strategies"]) for r in rows] == [
        ("bitfit", 1, "True"), ("lora", 2, "True"), ("lora", 5, "True"), ("lora", 6, "False"), ("lora", 7, "False")]
    table = (tmp_path / "report" / "front.md").read_text()
    assert "| lora | 6 |" in table and "no seed runs" in table
    assert (tmp_path / "report" / "pareto-params.png").exists()


def test_an_unknown_cost_objective_in_results_json_is_one_line(tmp_path):
    results = hand_made_results()
    results["settings"]["cost_objectives"] = ["flops"]
    with pytest.raises(UserError, match="settings.cost_objectives must be a list of trainable_params, peak_memory, "
                                        "train_time, found \\['flops'\\]"):
        load_results(write_run(tmp_path / "run", results))
