"""``python -m runners.recommend``: the right strategy under constraints, the runner-up and margin, a
reason for every ruled-out strategy, the binding constraint when nothing qualifies, and unit parsing."""

from __future__ import annotations

import pytest
from scipy import stats as scipy_stats

from core.errors import UserError
from core.schema import load_results
from core.records import ComparisonRecord
from reports.recommend import Constraints, recommend, render
from reports.tables import main_table
from reports.stats import paired_t_test
from core.units import parse_bytes, parse_count, parse_milliseconds, parse_seconds
from tests.fixtures.make_results import MiB, make_results, smoke_results, variant, write_run
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
    (["--max-latency", "5"], "argument --max-latency: '5' needs a unit for a latency: use ms, s, us"),
    (["--max-latency", "5min"], "argument --max-latency: unknown unit 'min' in '5min' for a latency"),
    (["--max-latency", "0ms"], "argument --max-latency: a latency must be positive, got '0ms'"),
    (["--max-inference-memory", "lots"], "argument --max-inference-memory: cannot read 'lots' as a size"),
])
def test_cli_bad_units(sst2, args, fragment):
    assert_one_line_error(run_cli("runners.recommend", str(sst2), *args), fragment)


@pytest.mark.parametrize("text,expected", [("5ms", 5), ("5 MS", 5), ("0.5s", 500), ("800us", 0.8), ("2e-3s", 2)])
def test_latencies(text, expected):
    assert parse_milliseconds(text) == pytest.approx(expected)


def test_cli_inference_limits(sst2):
    """The fixture's latencies at batch 1: lora 11 ms as trained, 9 ms merged (same predictions); qlora 23.9 ms,
    18.3 ms merged but with other predictions, so not counted; every other strategy above 11.5 ms."""
    process = run_cli("runners.recommend", str(sst2), "--max-latency", "10ms")
    assert process.returncode == 0, process.stderr
    out = process.stdout
    assert "Constraints: inference latency per example (batch 1) ≤ 10 ms." in out
    assert "**Use lora**" in out and "inference 9 ms per example at batch 1 merged (runners.export --merge)" in out
    assert "- qlora: inference latency per example (batch 1) 23.9 ms > 10 ms (--max-latency)" in out
    assert "- adapters: inference latency per example (batch 1) 15.1 ms > 10 ms (--max-latency)" in out
    assert "--max-latency was checked against latencies measured on cpu: x86_64, 2 threads" in out
    process = run_cli("runners.recommend", str(sst2), "--max-latency", "5ms")
    assert "**No strategy meets every constraint.**" in process.stdout
    assert ("--max-latency binds: without it llrd (held-out accuracy 0.846) would qualify (it needs inference latency "
            "per example (batch 1) 11.9 ms)") in process.stdout
    # 80 MB = 76.3 MiB of weights: only qlora's packed 4-bit base fits (51.1 MiB as trained)
    process = run_cli("runners.recommend", str(sst2), "--max-inference-memory", "80MB")
    assert process.returncode == 0, process.stderr
    assert "**Use qlora**" in process.stdout and "51.1 MiB of weights" in process.stdout
    assert "- lora: inference memory 86.1 MiB > 76.3 MiB (--max-inference-memory)" in process.stdout


def test_inference_limits_on_a_comparison_that_never_measured_inference(tmp_path):
    """A results.json from before peftbench measured inference (the real smoke run's, and a synthetic one):
    the limit cannot be checked, which is one line, not an answer that rules everything out."""
    older = write_run(tmp_path / "older", make_results(inference=False))
    smoke = write_run(tmp_path / "smoke", smoke_results())
    for run in (older, smoke):
        assert_one_line_error(run_cli("runners.recommend", str(run), "--max-latency", "5ms"),
                              f"--max-latency cannot be checked: {run / 'results.json'} records no inference latency "
                              "per example (batch 1) for any strategy (written before peftbench measured inference "
                              "costs)")
    assert_one_line_error(run_cli("runners.recommend", str(older), "--prefer", "latency"),
                          "--prefer latency cannot be checked")
    assert_one_line_error(run_cli("runners.recommend", str(older), "--max-inference-memory", "1GB"),
                          "--max-inference-memory cannot be checked")
    assert run_cli("runners.recommend", str(older), "--max-memory", "8GB").returncode == 0  # other limits still work


def test_a_strategy_whose_measurement_is_missing_is_ruled_out_with_the_reason(tmp_path):
    data = make_results(strategies=("lora", "bitfit", "frozen"))
    data["strategies"]["lora"]["seed_runs"][0]["inference"] = None  # e.g. its seed-0 run failed, another seed ran
    rec = recommend([load_results(write_run(tmp_path / "partial", data))], Constraints(max_latency_ms=100))
    assert rec.ruled_out == {"lora": "inference latency per example (batch 1) not measured, so --max-latency cannot "
                                     "be checked"}
    assert rec.choice.strategy == "bitfit"


def test_cli_bad_results(tmp_path):
    broken = write_run(tmp_path / "newer", variant(make_results(seeds=1), schema_version=99))
    assert_one_line_error(run_cli("runners.recommend", str(broken)), "written by a newer peftbench")
    assert_one_line_error(run_cli("runners.recommend", str(tmp_path / "nowhere")), "does not exist")


# ----------------------------------------------------------------------------- ties: the cheaper one
def two_leaders(tmp_path, adapters: list[float], lora: list[float], **costs) -> ComparisonRecord:
    """adapters and lora with the given held-out scores per seed; 523k vs 250k trainable parameters (the
    issue's case) unless ``costs`` say otherwise, e.g. ``memory={"adapters": 1200, "lora": 1300}`` (MiB)."""
    data = make_results(strategies=("adapters", "lora"))
    params = costs.get("params", {"adapters": 523_010, "lora": 250_114})
    for name, scores in (("adapters", adapters), ("lora", lora)):
        for run, score in zip(data["strategies"][name]["seed_runs"], scores):
            run["metrics"]["test"]["accuracy"] = score
            run["trainable_params"] = params[name]
            if "memory" in costs:
                run["peak_memory_bytes"] = costs["memory"][name] * MiB
            if "seconds" in costs:
                run["train_seconds"] = costs["seconds"][name]
    return load_results(write_run(tmp_path / "ties", data))


ISSUE = {"adapters": [0.880, 0.882, 0.884], "lora": [0.875, 0.880, 0.885]}  # 0.882 ± 0.002 vs 0.880 ± 0.005


def test_leaders_within_seed_noise_go_to_the_one_with_fewer_parameters(tmp_path):
    """The issue's case: adapters 0.882 ± 0.002 (523k parameters) vs lora 0.880 ± 0.005 (250k), p ≈ 0.37."""
    run = two_leaders(tmp_path, ISSUE["adapters"], ISSUE["lora"])
    rows = {row.strategy: row for row in main_table(run).rows}
    assert (rows["adapters"].score.mean, rows["adapters"].score.std) == (pytest.approx(0.882), pytest.approx(0.002))
    assert (rows["lora"].score.mean, rows["lora"].score.std) == (pytest.approx(0.880), pytest.approx(0.005))
    p = scipy_stats.ttest_rel(ISSUE["lora"], ISSUE["adapters"]).pvalue
    assert p == pytest.approx(0.3675, abs=1e-4)
    rec = recommend([run])
    assert rec.choice.strategy == "lora" and rec.runner_up.strategy == "adapters" and rec.prefer == "params"
    assert rec.tie.best.strategy == "adapters" and rec.tie.members[0][1].p == pytest.approx(p)
    assert rec.margin.mean == pytest.approx(-0.002)  # lora − adapters: the cheaper one is a little worse
    text = render(rec)
    assert "**Use lora**" in text
    assert ("Why: lora and adapters are within seed noise (p = 0.37); lora trains 250k parameters vs 523k, so lora "
            "(ties go to the cheapest on --prefer params).") in text
    assert "- runner-up: adapters" in text and "not significant: the two are within seed noise" in text


def test_a_significant_gap_keeps_the_better_one(tmp_path):
    rec = recommend([two_leaders(tmp_path, [0.900, 0.902, 0.904], ISSUE["lora"])])
    assert rec.margin.significant() and rec.tie is None
    assert (rec.choice.strategy, rec.runner_up.strategy) == ("adapters", "lora")
    assert "Why:" not in render(rec)


def test_no_significance_is_not_a_tie_when_the_gap_exceeds_the_seed_spread(tmp_path):
    """3 seeds: a 0.025 gap with seed sds of 0.010 and 0.005 has p = 0.08; that is not seed noise."""
    rec = recommend([two_leaders(tmp_path, [0.915, 0.895, 0.905], ISSUE["lora"])])
    assert rec.margin.p == pytest.approx(scipy_stats.ttest_rel([0.915, 0.895, 0.905], ISSUE["lora"]).pvalue)
    assert rec.margin.p > 0.05 and rec.tie is None and rec.choice.strategy == "adapters"
    assert ("not significant, but the gap (0.025) is larger than either's seed sd (0.010), so not called a tie"
            in render(rec))


@pytest.mark.parametrize("prefer,costs,chosen,reason", [
    ("memory", {"memory": {"adapters": 1200, "lora": 1300}}, "adapters",
     "adapters and lora are within seed noise (p = 0.37); adapters peaks at 1.17 GiB of memory vs 1.27 GiB, so "
     "adapters"),
    ("memory", {"memory": {"adapters": 1300, "lora": 1200}}, "lora", "lora peaks at 1.17 GiB of memory vs 1.27 GiB"),
    ("time", {"seconds": {"adapters": 75.0, "lora": 84.0}}, "adapters", "adapters trains in 75 s vs 84 s, so adapters"),
    # lora merged (9 ms, predictions kept) against adapters, which nothing merges (15.1 ms): the fixture's latencies
    ("latency", {}, "lora", "lora answers in 9 ms per example vs 15.1 ms, so lora"),
    ("params", {"params": {"adapters": 250_114, "lora": 250_114}}, "adapters",
     "adapters and lora are within seed noise (p = 0.37); both train 250k parameters, so the better-scoring adapters"),
])
def test_prefer_names_the_cost_ties_are_broken_on(tmp_path, prefer, costs, chosen, reason):
    rec = recommend([two_leaders(tmp_path, ISSUE["adapters"], ISSUE["lora"], **costs)], prefer=prefer)
    assert rec.choice.strategy == chosen
    assert reason in rec.tie.reason()
    assert f"(ties go to the cheapest on --prefer {prefer})" in render(rec)


def test_three_way_tie_and_constraints_still_apply(tmp_path):
    data = make_results(strategies=("adapters", "lora", "bitfit"))
    scores = {"adapters": [0.880, 0.882, 0.884], "lora": [0.875, 0.880, 0.885], "bitfit": [0.876, 0.879, 0.884]}
    for name, values in scores.items():
        for run, score in zip(data["strategies"][name]["seed_runs"], values):
            run["metrics"]["test"]["accuracy"] = score
    run = load_results(write_run(tmp_path / "three", data))
    rec = recommend([run])
    assert rec.choice.strategy == "bitfit" and rec.runner_up.strategy == "adapters"
    assert rec.tie.reason().startswith("bitfit, adapters and lora are within seed noise of the best, adapters (p = ")
    assert "bitfit trains 30.2k parameters vs 301k (adapters), 148k (lora), so bitfit" in rec.tie.reason()
    capped = recommend([run], Constraints(max_memory_bytes=1320 * MiB))  # bitfit 1310 MiB; lora, adapters above
    assert capped.choice.strategy == "bitfit" and capped.tie is None and capped.runner_up is None


def test_cli_prefer(tmp_path):
    run = two_leaders(tmp_path, ISSUE["adapters"], ISSUE["lora"]).directory
    process = run_cli("runners.recommend", str(run), "--prefer", "params")
    assert process.returncode == 0, process.stderr
    assert "**Use lora**" in process.stdout and "lora trains 250k parameters vs 523k, so lora" in process.stdout
    process = run_cli("runners.recommend", str(run), "--prefer", "time")
    assert process.returncode == 0, process.stderr
    assert "(ties go to the cheapest on --prefer time)" in process.stdout
    assert_one_line_error(run_cli("runners.recommend", str(run), "--prefer", "speed"),
                          "argument --prefer: invalid choice: 'speed' (choose from 'params', 'memory', 'time', "
                          "'latency')")
