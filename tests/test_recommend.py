"""``python -m runners.recommend``: the right strategy under constraints, the runner-up and margin, a
reason for every ruled-out strategy, the binding constraint when nothing qualifies, and unit parsing."""

from __future__ import annotations

import pytest

from core.errors import UserError
from reports.load import load_results
from reports.recommend import Constraints, recommend, render
from reports.stats import paired_t_test
from reports.units import parse_bytes, parse_count, parse_seconds
from tests.fixtures.make_results import MiB, make_results, variant, write_run
from tests.test_cli_train import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def sst2(tmp_path_factory):
    return write_run(tmp_path_factory.mktemp("sst2") / "run", make_results())


@pytest.fixture(scope="module")
def rte(tmp_path_factory):
    return write_run(tmp_path_factory.mktemp("rte") / "run", make_results(task="rte", failed=("qlora",)))


def held_out_mean(run, strategy: str) -> float:
    scores = load_results(run).strategies[strategy].scores("test", "accuracy")
    return sum(scores.values()) / len(scores)


@pytest.mark.parametrize("text,expected", [
    ("8GB", 8 * 10**9), ("8gb", 8 * 10**9), ("8 GiB", 8 * 2**30), ("512MiB", 512 * 2**20), ("512mib", 512 * 2**20),
    ("1.5KB", 1500), ("2KiB", 2048), ("1e9B", 10**9), ("1TB", 10**12),
])
def test_sizes(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("90s", 90), ("10min", 600), ("10MIN", 600), ("2h", 7200), ("1.5h", 5400), ("45 sec", 45), ("3m", 180),
])
def test_durations(text, expected):
    assert parse_seconds(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("1.5M", 1_500_000), ("1.5m", 1_500_000), ("200k", 200_000), ("200K", 200_000), ("1e6", 1_000_000),
    ("3B", 3 * 10**9), ("770", 770),
])
def test_counts(text, expected):
    assert parse_count(text) == expected


@pytest.mark.parametrize("parse,text,fragment", [
    (parse_bytes, "8XB", "unknown unit 'XB' in '8XB' for a size"),
    (parse_bytes, "8", "'8' needs a unit for a size"),
    (parse_bytes, "0GB", "a size must be positive"),
    (parse_seconds, "10y", "unknown unit 'y'"),
    (parse_seconds, "ten minutes", "cannot read 'ten minutes' as a duration"),
    (parse_count, "3q", "unknown unit 'q' in '3q' for a count"),
])
def test_bad_units(parse, text, fragment):
    with pytest.raises(UserError, match=fragment):
        parse(text)


def test_no_constraints_picks_the_best_held_out_mean(sst2):
    rec = recommend([load_results(sst2)])
    means = {name: held_out_mean(sst2, name) for name in ("full", "llrd", "adapters")}
    assert rec.choice.strategy == "llrd" and rec.choice.score == pytest.approx(means["llrd"])
    assert rec.runner_up.strategy == "full"
    assert rec.margin.mean == pytest.approx(means["llrd"] - means["full"])
    run = load_results(sst2)
    expected = paired_t_test(run.strategies["llrd"].scores("test", "accuracy"),
                             run.strategies["full"].scores("test", "accuracy"))
    assert (rec.margin.ci_low, rec.margin.ci_high) == (expected.ci_low, expected.ci_high)
    assert rec.ruled_out == {}
    assert rec.choice.params == [run.strategies["llrd"].best_params]


def test_a_parameter_budget_rules_out_full_fine_tuning(sst2):
    rec = recommend([load_results(sst2)], Constraints(max_trainable_params=1_000_000))
    assert (rec.choice.strategy, rec.runner_up.strategy) == ("adapters", "lora")
    assert set(rec.ruled_out) == {"full", "llrd"}
    assert rec.ruled_out["full"] == "trainable parameters 22.6M > 1M (--max-trainable-params)"


def test_memory_and_artifact_limits_together(sst2):
    constraints = Constraints(max_memory_bytes=1300 * MiB, max_artifact_bytes=1 * MiB)
    rec = recommend([load_results(sst2)], constraints)
    assert rec.choice.strategy == "qlora"  # 1240 MiB and 582 KiB; adapters and lora use > 1300 MiB
    assert rec.runner_up.strategy == "frozen"
    assert "peak memory" in rec.ruled_out["adapters"] and "(--max-memory)" in rec.ruled_out["adapters"]
    assert "artifact size 86.1 MiB > 1 MiB (--max-artifact-size)" in rec.ruled_out["full"]


def test_when_everything_is_ruled_out_the_binding_constraint_is_named(sst2):
    rec = recommend([load_results(sst2)], Constraints(max_memory_bytes=500 * MiB, max_trainable_params=1_000_000))
    assert rec.choice is None and len(rec.ruled_out) == 7
    # only memory holds every strategy back from the parameter-light ones; the best of those is adapters
    assert rec.binding.startswith("--max-memory binds: without it adapters")
    two = recommend([load_results(sst2)], Constraints(max_memory_bytes=500 * MiB, max_trainable_params=10))
    assert two.choice is None and "no single constraint binds alone" in two.binding
    assert "--max-memory and --max-trainable-params" in two.binding


def test_several_comparisons_need_a_strategy_in_every_one(sst2, rte):
    rec = recommend([load_results(sst2), load_results(rte)])
    assert rec.ruled_out["qlora"] == "no seed runs to judge it by (rte: failed)"
    expected = (held_out_mean(sst2, "llrd") + held_out_mean(rte, "llrd")) / 2
    assert rec.choice.strategy == "llrd" and rec.choice.score == pytest.approx(expected)
    assert rec.margin.n == 6  # (comparison, seed) pairs
    assert len(rec.choice.params) == 2


def test_extrapolation_and_device_are_stated(sst2, tmp_path):
    text = render(recommend([load_results(sst2)], Constraints(cpu_only=True)))
    assert "measured on 2,000 of 66,349 training examples, so the recommendation extrapolates" in text
    assert "These numbers were measured on a CPU." in text
    gpu = make_results()
    for strategy in gpu["strategies"].values():
        for run in strategy["seed_runs"]:
            run["device"] = "cuda: NVIDIA H200"
    text = render(recommend([load_results(write_run(tmp_path / "gpu", gpu))], Constraints(cpu_only=True)))
    assert "These numbers come from cuda: NVIDIA H200; CPU time and memory will differ." in text
    assert "Measured on: cuda: NVIDIA H200." in text


def test_cli_answers_with_reasons(sst2):
    process = run_cli("runners.recommend", str(sst2), "--max-memory", "1.4GiB", "--max-trainable-params", "200k")
    assert process.returncode == 0, process.stderr
    out = process.stdout
    assert "**Use lora**" in out
    assert "- runner-up: qlora" in out
    assert "- margin: +0.016 held-out accuracy (95% CI [" in out
    assert "- adapters: trainable parameters 301k > 200k (--max-trainable-params)" in out
    assert "- bitfit:" not in out and "- frozen:" not in out  # they meet the constraints: not ruled out
    assert "best hyperparameters: lr=" in out


def test_cli_says_which_constraint_binds(sst2):
    process = run_cli("runners.recommend", str(sst2), "--max-train-time", "5s")
    assert process.returncode == 0, process.stderr
    assert "**No strategy meets every constraint.**" in process.stdout
    assert "--max-train-time binds: without it llrd" in process.stdout


@pytest.mark.parametrize("args,fragment", [
    (["--max-memory", "8XB"], "argument --max-memory: unknown unit 'XB' in '8XB'"),
    (["--max-train-time", "10y"], "argument --max-train-time: unknown unit 'y'"),
    (["--max-trainable-params", "many"], "argument --max-trainable-params: cannot read 'many' as a count"),
    (["--max-artifact-size", "50"], "argument --max-artifact-size: '50' needs a unit"),
])
def test_cli_bad_units(sst2, args, fragment):
    assert_one_line_error(run_cli("runners.recommend", str(sst2), *args), fragment)


def test_cli_bad_results(tmp_path):
    broken = write_run(tmp_path / "newer", variant(make_results(seeds=1), schema_version=99))
    assert_one_line_error(run_cli("runners.recommend", str(broken)), "written by a newer peftbench")
    assert_one_line_error(run_cli("runners.recommend", str(tmp_path / "nowhere")), "does not exist")
