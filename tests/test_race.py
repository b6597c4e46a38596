"""The race (``runners.choose``, studies.race): elimination checked by simulation against known truth, and the
command run for real on the tiny model: reproducible with a run budget, a time budget honoured within one run,
resumed after SIGKILL, constraints applied before any training, never mixed with a comparison, and its output
read by recommend and export."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import optuna
import pytest

from peftbench.exits import Exit
from reports.confidence import analyse
from studies.presets import PRESETS
from studies.race import (SCREEN_ABOVE, SPENDING_POWER, RaceSettings, affords_tuning, alpha_spent, drops, goes_on,
                          look_alpha, progress_at, schedule, screens)
from tests.test_confidence import as_predictions, correctness

ROOT = Path(__file__).resolve().parents[1]
SIMULATIONS = 500
RACE = RaceSettings()  # the defaults: alpha 0.05 spent over at most 9 looks, the engine's margin


TRIALS = PRESETS["quick"].trials  # tuning trials per strategy in the simulated races
SHORT, LONG = 24, 70  # budgets in run lengths for 5 strategies: too short for the tuning trials (the first look at
# 0.42 of it, like the SST-2@500 race's), or long enough for them and all 9 looks


def simulated_race(rng, accuracies: list[float], budget: float,
                   alpha_at: Callable[[float, float], float] = partial(look_alpha, RACE.alpha)) -> list[tuple[int, set[str]]]:
    """One race on simulated seed runs (tests.test_confidence's model of real ones), decided as studies.race decides:
    runs of one length each, in turn across the strategies still in, none started once ``budget`` (in run lengths)
    is spent; the rounds of studies.race.schedule (round 1: the defaults trial, rescored as seed run 1, and seed run
    2; later rounds: the rest of the tuning trials where affords_tuning says so, then one more seed run); after each
    round a look on the strategies with 2 seed runs, at the alpha ``alpha_at(before, now)`` gives for the race's
    progress (progress_at). Dropped strategies' runs are saved, so later looks come sooner.
    Returns each look's (time, dropped so far)."""
    predictions, labels = as_predictions(rng, correctness(rng, accuracies, seeds=RACE.max_seeds))
    seeds = dict.fromkeys(predictions, 0)
    out: set[str] = set()
    looks, clock, before, tuned = [], 0, 0.0, 0
    for look in range(1, RACE.looks + 1):
        alive = [name for name in predictions if name not in out]
        tune = look > 1 and tuned < TRIALS and affords_tuning(clock, budget, [1.0] * len(alive), TRIALS - tuned)
        trials, _ = schedule(look, TRIALS, RACE.max_seeds, tuned, tune)
        runs = (1, 1) if look == 1 else (0,) * (trials - tuned) + (1,)  # 1: a run that adds a seed run
        tuned = trials
        for adds in runs:
            for name in alive:
                if clock < budget:
                    clock += 1
                    seeds[name] += adds
        last = clock >= budget or look == RACE.looks
        progress = progress_at(clock, budget, look, RACE.looks, before, last)
        alpha = alpha_at(before, progress)
        measured = {name: predictions[name][:seeds[name]] for name in alive if seeds[name] >= 2}
        if len(measured) >= 2:
            out |= set(drops(analyse(measured, labels, "accuracy", RACE.margin, alpha), alpha))
        looks.append((clock, set(out)))
        if last or len(predictions) - len(out) < 2:
            break
        before = progress
    return looks


@pytest.mark.parametrize("budget", [SHORT, LONG])
def test_the_true_best_is_dropped_at_most_at_the_stated_rate(budget):
    """Measured over 500 simulated races each, with the looks spending alpha by the race's progress and a budget too
    short for the tuning trials going to seed runs first: with one strategy truly best by 2 points (0.84 against
    0.82, 0.82, 0.80, 0.78) it was never dropped (0.0%) at either budget; the one 6 points behind was dropped in
    95.8% of the races at the short budget (50.2% when round 2 always tuned first, 27.4% when every look also tested
    at alpha ÷ 9) and 99.6% at the long one; with 5 equal strategies some strategy was dropped in 2.0% at both. The
    stated rate: at most 5% (alpha over the looks and pairs)."""
    rng = np.random.default_rng(0)
    races = [simulated_race(rng, [0.84, 0.82, 0.82, 0.80, 0.78], budget) for _ in range(SIMULATIONS)]
    best_dropped = np.mean([any("s0" in out for _, out in looks) for looks in races])
    worst_dropped = np.mean([any("s4" in out for _, out in looks) for looks in races])
    assert best_dropped <= 0.05 and worst_dropped >= 0.9
    equal = [simulated_race(rng, [0.82] * 5, budget) for _ in range(SIMULATIONS)]
    assert np.mean([any(out for _, out in looks) for looks in equal]) <= 0.05


def test_the_screen_keeps_what_optunas_successive_halving_promotes():
    """The screen's rule against its reference, Optuna's SuccessiveHalvingPruner at one rung (reduction factor 3):
    300 random sequences of 1–20 strategies, with ties, each value decided against those before it."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        values = list(np.round(rng.uniform(0.5, 0.9, size=rng.integers(1, 21)), 2))
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3, min_early_stopping_rate=0)
        study = optuna.create_study(direction="maximize", pruner=pruner)
        for index, value in enumerate(values):
            trial = study.ask()
            trial.report(value, 1)
            assert goes_on(value, values[:index]) == (not trial.should_prune())
            study.tell(trial, value)


def test_the_screen_is_on_for_many_strategies_unless_told():
    assert not screens("auto", SCREEN_ABOVE) and screens("auto", SCREEN_ABOVE + 1)
    assert screens("on", 2) and not screens("off", 53)


def test_a_new_best_without_seed_runs_leaves_the_strategy_judged_by_the_configuration_before(tiny_model, data_dir):
    """A best configuration found in a late round has no seed runs until they run; a race that ran out of budget
    then once left the strategy out of its answer (full, in the first race of all 53 strategies). Until the new
    best has 2 seed runs, the configuration before it, which has them, stands for the strategy."""
    from optuna.distributions import FloatDistribution

    from peftbench.config import TrainConfig
    from peftbench.records import RunResult
    from peftbench.schema import to_json
    from strategies import get_strategy
    from studies.compare import SEED_RESULT, Comparison, ComparisonSettings, seeds_study_name, study_name
    from studies.presets import resolve_preset
    from studies.results import judged_configuration

    preset = resolve_preset("smoke", {"model": tiny_model})
    frozen = type(get_strategy("frozen", {}))
    settings = ComparisonSettings(run=TrainConfig(task="sst2", model=tiny_model, data_dir=data_dir, device="cpu"),
                                  preset=preset, strategies=[frozen], study_suffix="-race")
    storage = optuna.storages.InMemoryStorage()
    comparison = Comparison(settings, storage)
    tuning = optuna.create_study(study_name=study_name(settings, "frozen"), storage=storage, direction="maximize")
    for value in (0.80, 0.85):
        tuning.add_trial(optuna.trial.create_trial(value=value, params={"lr": value},
                                                   distributions={"lr": FloatDistribution(0, 1)}))

    def seed_run(configuration: int, seed: int) -> None:
        counts = dict.fromkeys(("trainable_params", "total_params", "peak_memory_bytes", "train_samples_seen",
                                "train_tokens_seen", "steps", "artifact_bytes"), 0)
        run = RunResult(task="sst2", model=tiny_model, strategy="frozen", seed=seed, hyperparameters={},
                        primary_metric="accuracy", metrics={"dev": {"accuracy": 0.8}}, memory_kind="rss",
                        train_seconds=0.0, eval_seconds=0.0, train_samples_per_second=0.0, stopped_early=False,
                        artifact_path=None, learning_curve=[], data_sizes={}, data_notes=[], device="cpu",
                        precision="fp32", versions={}, **counts)
        seeds = optuna.create_study(study_name=seeds_study_name(settings, "frozen", configuration), storage=storage,
                                    direction="maximize", load_if_exists=True)
        seeds.add_trial(optuna.trial.create_trial(value=0.8, user_attrs={SEED_RESULT: to_json(run)}))

    assert judged_configuration(comparison, "frozen", tuning).number == 1  # no seed runs anywhere: the best
    seed_run(0, 0), seed_run(0, 1)
    assert judged_configuration(comparison, "frozen", tuning).number == 0  # the best has none yet
    seed_run(1, 0)
    assert judged_configuration(comparison, "frozen", tuning).number == 0  # one is no seed variance
    seed_run(1, 1)
    assert judged_configuration(comparison, "frozen", tuning).number == 1


def test_the_trace_axis_is_not_flattened_by_one_interval_spanning_every_score():
    """Two seed runs at alpha over looks and pairs can give an interval from 0 to beyond 1 (prefix_tuning in the race
    of all 53): the axis keeps to the others, cuts that one with an arrowhead, and the caption says so."""
    from dataclasses import replace

    from peftbench.schema import load_results
    from reports.race import race_trace_caption, trace_limits

    record = load_results(ROOT / "docs" / "example-race")
    looks = [look for look in record.race.trace if look.estimate is not None]
    assert "arrowhead" not in race_trace_caption(record)
    wide = replace(looks[0], low=0.02, high=1.59)
    widened = replace(record, race=replace(record.race, trace=[wide, *looks[1:]]))
    low, high = trace_limits(widened)
    assert 0.02 < low < min(look.estimate for look in looks) and max(look.estimate for look in looks) < high < 1.0
    assert "ends in an arrowhead" in race_trace_caption(widened)


def test_the_committed_race_agrees_with_the_committed_comparison_and_saw_the_same_curves():
    """docs/example-race against docs/example-report (the classic seven, SST-2, quick preset): the race's group is in
    the comparison's top group, and every defaults trial learned the same curve in both (what the screen relies
    on when it is replayed on a comparison)."""
    from benchmarks.race_agreement import agreement
    from benchmarks.screen_replay import replay_comparison
    from peftbench.schema import load_results

    result = agreement(load_results(ROOT / "docs" / "example-race"), load_results(ROOT / "docs" / "example-report"))
    assert result.agrees and result.answer and not result.curves_differ
    replayed = replay_comparison(ROOT / "docs" / "example-report")
    assert replayed.kept and set(replayed.kept) | set(replayed.screened) == set(result.top_group)


# the committed settings where the strategies differ (docs/guides/choose.md, "Where the strategies differ"):
# (race, the equal-budget comparison of the same task, data and preset)
DIFFERING = {"sst2-500": ("example-agreement/sst2-500-race", "example-agreement/sst2-500-compare"),
             "sst2-500-30m": ("example-agreement/sst2-500-race-30m", "example-agreement/sst2-500-compare"),
             "subj": ("example-agreement/subj-race", "example-tasks/subj"),
             "subj-seeds": ("example-agreement/subj-race-seeds", "example-tasks/subj"),
             "sst2-500-three": ("example-agreement/sst2-500-three-race", "example-agreement/sst2-500-three-compare")}


@pytest.mark.parametrize("setting", DIFFERING)
def test_in_each_committed_setting_where_strategies_differ_the_comparison_separates_some(setting):
    """A setting tests a race only if the comparison's top group, at the race's margin and alpha, leaves some
    strategy out; the agreement is judged at the race's margin (SUBJ's race used ±0.02: at the default ±0.05 every
    strategy there is within the margin of the best)."""
    from benchmarks.race_agreement import agreement
    from peftbench.schema import load_results
    from reports.conclusions import conclude

    race, comparison = (load_results(ROOT / "docs" / path) for path in DIFFERING[setting])
    result = agreement(race, comparison)
    assert result.top_group == conclude(comparison, margin=race.race.margin, alpha=race.race.alpha).top_group
    assert 0 < len(result.top_group) < len(comparison.strategies)
    assert set(race.strategies) == set(comparison.strategies) and not result.curves_differ
    dropped = {look.strategy for look in race.race.departures()}
    for name in dropped & set(result.top_group):  # dropped though in the comparison's group: judged by its defaults
        assert race.race.tuning_trials == [1] * len(race.race.tuning_trials)
        assert race.strategies[name].trials[-1].number == 0 != comparison.strategies[name].best_trial


def test_the_committed_races_keep_one_strategy_more_than_the_comparison_and_why():
    """What was measured (2026-12-06): both 15-minute races stop on their budget and keep one strategy the
    comparison shows worse, so by the issue's rule neither agrees. On SST-2 at 500 examples the race's last look
    saw the comparison's own seed runs (the same scores) and kept p_tuning only because each look tests at
    alpha ÷ 9 looks: at that alpha the comparison keeps it too; given 30 minutes the race drops it and agrees.
    On SUBJ the budget ran out before bitfit's third seed run: with its two, even a single test at alpha keeps
    it."""
    from benchmarks.race_agreement import agreement
    from peftbench.schema import load_results
    from reports.conclusions import conclude

    race, comparison = (load_results(ROOT / "docs" / path) for path in DIFFERING["sst2-500"])
    result = agreement(race, comparison)
    assert race.race.stopped == "budget" and result.outside == ["p_tuning"]
    at_a_look = conclude(comparison, margin=race.race.margin, alpha=race.race.alpha / race.race.looks).top_group
    assert set(at_a_look) == set(result.answer)
    longer = agreement(load_results(ROOT / "docs" / DIFFERING["sst2-500-30m"][0]), comparison)
    assert longer.agrees and set(longer.answer) == set(longer.top_group)

    race, comparison = (load_results(ROOT / "docs" / path) for path in DIFFERING["subj"])
    result = agreement(race, comparison)
    assert race.race.stopped == "budget" and result.outside == ["bitfit"]
    assert len(race.strategies["bitfit"].seed_runs) == 2
    assert "bitfit" in conclude(race, margin=race.race.margin, alpha=race.race.alpha).top_group


def test_the_fifteen_minute_race_agrees_where_its_budget_allows_several_looks():
    """What was measured (2026-12-06): SST-2 at 500 examples, full, lora and p_tuning, the default 15 minutes. The
    race tuned in round 2 (its budget paid for it), reached the comparison's own configurations and scores by look
    2, dropped p_tuning at look 4 with 5 seed runs each, found full and lora equivalent at look 6 and answered lora,
    inside the comparison's top group (full, lora). With 10 strategies (sst2-500-seeds) or 40-second runs
    (subj-seeds), seed runs came first and the race ran out of budget after 2-3 looks, keeping one strategy more."""
    from benchmarks.race_agreement import agreement
    from peftbench.schema import load_results

    race, comparison = (load_results(ROOT / "docs" / path) for path in DIFFERING["sst2-500-three"])
    result = agreement(race, comparison)
    assert result.agrees and race.race.answer == "lora" and race.race.stopped == "all equivalent"
    assert race.race.budget == 900 and race.race.tuning_trials[1] == 4
    assert [look.strategy for look in race.race.departures()] == ["p_tuning"]
    shorter, its_comparison = (load_results(ROOT / "docs" / path) for path in DIFFERING["subj-seeds"])
    assert shorter.race.tuning_trials == [1, 1] and not agreement(shorter, its_comparison).agrees


# ----------------------------------------------------------------------------- the command
def choose(tiny_model: str, data_dir: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "runners.choose", "--task", "sst2", "--preset", "smoke", "--model", tiny_model,
               "--data-dir", data_dir, "--out", str(out), "--quiet", *extra]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


RACED = ("--strategies", "frozen,bitfit", "--run-budget", "14", "--max-seeds", "3")


@pytest.fixture(scope="module")
def race(tiny_model, data_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("race") / "race"
    process = choose(tiny_model, data_dir, out, *RACED)
    assert process.returncode in (Exit.OK, Exit.UNDETERMINED), process.stderr
    return out


def trace_without_times(results: dict) -> list[dict]:
    return [{k: v for k, v in look.items() if k not in ("seconds", "run_seconds")} for look in results["race"]["trace"]]


def test_a_race_writes_a_comparison_marked_as_a_race(race):
    results = json.loads((race / "results.json").read_text())
    record = results["race"]
    assert json.loads((race / "comparison.json").read_text())["kind"] == "race"
    assert record["budget_kind"] == "runs" and record["reproducible"] and record["stopped"]
    assert record["trace"] and {look["strategy"] for look in record["trace"]} == {"frozen", "bitfit"}
    for name, strategy in results["strategies"].items():
        assert strategy["study_name"].endswith("-race") and strategy["status"] in ("done", "dropped")
        if strategy["status"] == "done":
            assert len(strategy["seed_runs"]) >= 2 and all(run["predictions"]["test"] for run in strategy["seed_runs"])
    report = (race / "report" / "report.md").read_text()
    assert "## The race" in report and "![The race" in report and (race / "report" / "race-trace.png").is_file()


def test_the_looks_spend_at_most_alpha_and_all_of_it_at_the_last(race):
    """Each look tests at its share of alpha by the race's progress; together the shares never exceed alpha, and a
    race that ends at its budget or its most seed runs has spent all of it (the report lists every look's level)."""
    record = json.loads((race / "results.json").read_text())["race"]
    levels = {look["look"]: look["alpha"] for look in record["trace"] if look["alpha"] is not None}
    assert levels and all(alpha > 0 for alpha in levels.values()) and record["spending_power"] == SPENDING_POWER
    assert sum(levels.values()) <= record["alpha"] + 1e-12
    if record["stopped"] in ("budget", "seeds"):
        assert sum(levels.values()) == pytest.approx(record["alpha"])
    report = (race / "report" / "report.md").read_text()
    assert all(f"look {look} at {alpha:.3g}" in report for look, alpha in levels.items())
    assert alpha_spent(0.05, 0.5) == pytest.approx(0.05 * 0.5 ** SPENDING_POWER) and alpha_spent(0.05, 1.5) == 0.05


def test_with_a_run_budget_the_same_command_gives_the_same_race(race, tiny_model, data_dir, tmp_path):
    again = tmp_path / "again"
    assert choose(tiny_model, data_dir, again, *RACED).returncode in (Exit.OK, Exit.UNDETERMINED)
    first, second = (json.loads((run / "results.json").read_text()) for run in (race, again))
    assert trace_without_times(first) == trace_without_times(second)
    assert {k: v for k, v in first["race"].items() if k != "trace"} == \
        {k: v for k, v in second["race"].items() if k != "trace"}


def test_a_budget_too_short_for_the_tuning_trials_goes_to_seed_runs_first(race, tiny_model, data_dir, tmp_path):
    """With 9 runs for two strategies (round 1 takes 6: a defaults trial and 2 seed runs each) the budget left cannot
    pay for a tuning trial and a seed run more of both (4 runs), so round 2 adds the third seed runs and no tuning
    trial, and the report says each strategy was judged by its defaults; given 14 (the ``race`` fixture) round 2
    tunes first."""
    out = tmp_path / "short"
    process = choose(tiny_model, data_dir, out, "--strategies", "frozen,bitfit", "--run-budget", "9",
                     "--max-seeds", "3")
    assert process.returncode in (Exit.OK, Exit.UNDETERMINED), process.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["race"]["tuning_trials"] == [1, 1]
    for name, strategy in results["strategies"].items():
        assert len(strategy["trials"]) == 1
        assert strategy["status"] == "dropped" or len(strategy["seed_runs"]) == 3
    assert "never paid for their other 1 tuning trials, so each was judged by its defaults" in \
        (out / "report" / "report.md").read_text()
    tuned = json.loads((race / "results.json").read_text())["race"]["tuning_trials"]
    assert tuned[:2] == [1, PRESETS["smoke"].trials]
    assert "rest of the tuning trials and more seed runs" in (race / "report" / "report.md").read_text()


def test_the_report_says_which_round_tuned():
    from dataclasses import replace

    from peftbench.schema import load_results
    from reports.race import rounds

    results = load_results(ROOT / "docs" / DIFFERING["sst2-500"][0])
    assert results.race.tuning_trials is None  # written before: its round 2 tuned
    assert "rest of the tuning trials" in rounds(results)
    later = replace(results, race=replace(results.race, tuning_trials=[1, 1, 1, 4, 4]))
    assert "round 4, the first whose budget left paid for them, their other 3 tuning trials" in rounds(later)
    never = replace(results, race=replace(results.race, tuning_trials=[1, 1, 1]))
    assert "so each was judged by its defaults" in rounds(never)


def test_recommend_and_export_read_a_race(race, tmp_path):
    from tests.test_cli_train import run_cli

    recommended = run_cli("runners.recommend", str(race))
    assert recommended.returncode in (Exit.OK, Exit.UNDETERMINED, Exit.NOTHING_LEARNED), recommended.stderr
    results = json.loads((race / "results.json").read_text())
    name = next(n for n, s in results["strategies"].items() if s["seed_runs"])
    exported = run_cli("runners.export", str(race), "--strategy", name, "--out", str(tmp_path / "export"))
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "export" / "head.json").is_file()


def test_a_screened_race_drops_by_rank_only_what_the_screen_says(tiny_model, data_dir, tmp_path):
    """--screen on: a strategy whose defaults trial falls below the best third of those before it at its first
    evaluation leaves the race then, without seed runs, marked as screened (not tested) in the record and the
    report; replaying the screen on the race's own learning curves (benchmarks.screen_replay, which measures it
    on comparisons) gives the same strategies."""
    from benchmarks.screen_replay import defaults_curve, replay
    from peftbench.schema import load_results

    out = tmp_path / "screened"
    process = choose(tiny_model, data_dir, out, "--strategies", "frozen,bitfit,lora,ia3", "--screen", "on",
                     "--run-budget", "12", "--max-seeds", "2")
    assert process.returncode in (Exit.OK, Exit.UNDETERMINED), process.stderr
    record = load_results(out)
    screened = record.race.screened
    assert screened and "frozen" not in screened  # the first strategy has no one to be ranked against
    assert set(replay({name: defaults_curve(s) for name, s in record.strategies.items()})) == set(screened)
    for name in screened:
        strategy = record.strategies[name]
        assert strategy.status == "dropped" and not strategy.seed_runs
        assert strategy.trials[0].state == "PRUNED" and strategy.trials[0].reason.startswith("screened out after")
    assert "screened out by rank in round 1 (not a test): " + ", ".join(screened) in process.stdout
    from tests.test_cli_train import assert_one_line_error, run_cli

    exported = run_cli("runners.export", str(out), "--strategy", screened[0], "--out", str(tmp_path / "export"))
    assert_one_line_error(exported, f"strategy {screened[0]} has no finished seed run")
    assert "it left the race: screened out after" in exported.stderr
    assert "**Screened out** in round 1" in (out / "report" / "report.md").read_text()


def test_a_race_and_a_comparison_never_share_a_directory(race, tiny_model, data_dir):
    from tests.test_cli_train import assert_one_line_error, run_cli

    process = run_cli("runners.compare", "--task", "sst2", "--preset", "smoke", "--model", tiny_model, "--data-dir",
                      data_dir, "--strategies", "frozen", "--out", str(race), "--quiet")
    assert_one_line_error(process, "holds a race, not a comparison")


def test_a_time_budget_stops_starting_runs_once_spent(tiny_model, data_dir, tmp_path):
    """No run starts after the budget is spent; the one running then finishes, so the race overshoots by at
    most one run's length."""
    out = tmp_path / "timed"
    budget = 6.0
    process = choose(tiny_model, data_dir, out, "--strategies", "frozen,bitfit,lora", "--time-budget", f"{budget}s")
    assert process.returncode in (Exit.OK, Exit.UNDETERMINED), process.stderr
    record = json.loads((out / "results.json").read_text())["race"]
    with sqlite3.connect(out / "optuna.db") as db:
        spans = db.execute("SELECT datetime_start, datetime_complete FROM trials WHERE datetime_start IS NOT NULL")
        spans = [(datetime.fromisoformat(start), datetime.fromisoformat(end)) for start, end in spans]
    first = min(start for start, _ in spans)
    longest = max((end - start).total_seconds() for start, end in spans)
    assert record["stopped"] in ("budget", "one left", "all equivalent", "seeds")
    assert all((start - first).total_seconds() <= budget + 1.0 for start, _ in spans)  # started within the budget
    assert record["trace"][-1]["seconds"] <= budget + longest + 5.0


def test_constraints_known_before_training_exclude_before_any_training(tiny_model, data_dir, tmp_path):
    out = tmp_path / "constrained"
    process = choose(tiny_model, data_dir, out, "--strategies", "frozen,full", "--max-trainable-params", "1k",
                     "--run-budget", "4", "--max-seeds", "2")
    assert process.returncode in (Exit.OK, Exit.UNDETERMINED), process.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["strategies"]["full"]["status"] == "excluded" and results["strategies"]["full"]["trials"] == []
    assert "before any training" in results["race"]["trace"][0]["reason"] or any(
        "before any training" in (look["reason"] or "") for look in results["race"]["trace"])


def test_a_killed_race_resumes_and_ends_as_an_uninterrupted_one(race, tiny_model, data_dir, tmp_path):
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "runners.choose", "--task", "sst2", "--preset", "smoke", "--model", tiny_model,
               "--data-dir", data_dir, "--out", str(out), "--quiet", *RACED]
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while process.poll() is None and time.monotonic() < deadline:  # kill once its first look is stored
        if (out / "optuna.db").exists():
            try:
                with sqlite3.connect(out / "optuna.db") as db:
                    rows = db.execute("SELECT value_json FROM study_user_attributes WHERE key = 'race_state'").fetchall()
                if rows and json.loads(json.loads(rows[0][0]))["look"] >= 1:
                    break
            except sqlite3.Error:
                pass
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    resumed = choose(tiny_model, data_dir, out, *RACED)
    assert resumed.returncode in (Exit.OK, Exit.UNDETERMINED), resumed.stderr
    whole, killed = (json.loads((run / "results.json").read_text()) for run in (race, out))
    assert killed["race"]["answer"] == whole["race"]["answer"]
    assert killed["race"]["top_group"] == whole["race"]["top_group"]
    assert {n: len(s["seed_runs"]) for n, s in killed["strategies"].items()} == \
        {n: len(s["seed_runs"]) for n, s in whole["strategies"].items()}

