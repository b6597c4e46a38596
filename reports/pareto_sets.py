"""Multi-objective comparisons (``runners.compare --objectives metric,cost,...``): each strategy's Pareto
set of configurations, the front across all strategies, and their table (Markdown, CSV and LaTeX from
one :class:`~reports.tables.Grid`).

A strategy's Pareto set comes from its study (``results.json``, ``front``): the tuning trials no other
trial of the strategy beats on the dev metric and every cost at once. The front across strategies is
recomputed here from those sets with the same definition (``peftbench.pareto``). Costs are the trial's own
measurements; the seed runs of the configurations the comparison re-ran give their scores on the ranking
split. :func:`configurations` hands those re-run configurations to the recommender as candidates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Callable

from peftbench.pareto import front_indices
from peftbench.strategy import FAMILIES, StrategyInfo
from peftbench.records import SPLIT_NAMES, BestTrial, ComparisonRecord, FrontConfig
from reports.conclusions import ranked_split
from reports.tables import NONE, Cell, Column, Grid, Spread, fixed, mean_cell, spread, tex_escape, to_csv
from peftbench.units import format_bytes, format_count, format_seconds, significant


@dataclass(frozen=True)
class Cost:
    """How one cost objective is shown: in tables, and on a figure's x axis."""

    label: str
    render: Callable[[float], str]
    figure: str  # file stem of its figure
    log: bool = False  # drawn on a log axis (parameter counts span orders of magnitude)


COST_DISPLAY = {
    "trainable_params": Cost("trainable params", format_count, "pareto-params", log=True),
    "peak_memory": Cost("peak memory", format_bytes, "pareto-memory"),
    "train_time": Cost("train time", format_seconds, "pareto-time"),
}


@dataclass(frozen=True)
class FrontPoint:
    """One configuration on a strategy's Pareto set, with its seed runs' scores where it has any."""

    strategy: str
    info: StrategyInfo
    config: FrontConfig
    overall: bool  # also on the front across all strategies
    score: Spread | None  # ranking split, over its seed runs
    dev: Spread | None  # dev, over its seed runs

    @property
    def label(self) -> str:
        return configuration_label(self.strategy, self.config)


def configuration_label(strategy: str, config: FrontConfig) -> str:
    """How a configuration is named in tables and recommendations: ``lora (trial 5)``."""
    return f"{strategy} (trial {config.trial})"


def front_points(results: ComparisonRecord) -> list[FrontPoint]:
    """Every strategy's Pareto set, strategies in family order, each set best dev score first; ``overall``
    marks the configurations no configuration of any strategy beats on every objective."""
    families = list(FAMILIES)
    strategies = sorted(results.strategies.values(), key=lambda s: families.index(s.info.family))
    members = [(strategy, config) for strategy in strategies for config in strategy.front]
    maximise = [True] + [False] * len(results.costs)
    overall = set(front_indices([[c.values[o] for o in results.objectives] for _, c in members], maximise))
    metric, split = results.task.metric, front_split(results)
    points = []
    for index, (strategy, config) in enumerate(members):
        scores = [r.metrics[split][metric] for r in config.seed_runs if r.metrics.get(split, {}).get(metric) is not None]
        dev = [r.metrics["dev"][metric] for r in config.seed_runs if r.metrics.get("dev", {}).get(metric) is not None]
        points.append(FrontPoint(strategy.name, strategy.info, config, index in overall,
                                 spread(scores) if scores else None, spread(dev) if dev else None))
    return points


def front_split(results: ComparisonRecord) -> str:
    """The split the re-run configurations are ranked on, as the recommender ranks them (reports.conclusions)."""
    return ranked_split(configurations(results))


def hyperparameters(config: FrontConfig) -> str:
    """The learning rate and the strategy's own hyperparameters: what tells its configurations apart."""
    shown = {"lr": config.params["lr"], **config.strategy_params} if "lr" in config.params else config.strategy_params
    return ", ".join(f"{k}={significant(v, 3) if isinstance(v, float) else v}" for k, v in shown.items())


def front_grid(results: ComparisonRecord, points: list[FrontPoint]) -> Grid:
    split, metric = SPLIT_NAMES[front_split(results)], results.task.metric
    columns = [Column("strategy", "Strategy", align="l"), Column("trial", "Trial"),
               Column("hyperparameters", "Hyperparameters", align="l"),
               Column(f"dev {metric} (trial)", tex_escape(f"Dev {metric}"), "max")]
    columns += [Column(COST_DISPLAY[c].label, tex_escape(COST_DISPLAY[c].label.capitalize()), "min")
                for c in results.costs]
    columns += [Column(f"{split} {metric} (mean ± sd, seed runs)", tex_escape(f"{split.capitalize()} {metric}"),
                       "max"),
                Column("front across strategies", "Overall front", align="l")]
    rows = []
    for point in points:
        value = point.config.values[metric]
        rows.append([Cell(point.strategy), Cell(str(point.config.trial)), Cell(hyperparameters(point.config)),
                     Cell(fixed(value), round(value, 3))]
                    + [Cell(COST_DISPLAY[c].render(point.config.values[c]), point.config.values[c])
                       for c in results.costs]
                    + [mean_cell(point.score, True) if point.score else Cell("no seed runs"),
                       Cell("yes" if point.overall else NONE)])
    return Grid(columns, rows)


def front_csv(results: ComparisonRecord, points: list[FrontPoint]) -> str:
    split, metric = SPLIT_NAMES[front_split(results)].replace("-", "_"), results.task.metric
    header = ["strategy", "trial", f"dev_{metric}", *results.costs, f"{split}_{metric}_mean", f"{split}_{metric}_std",
              "seeds", f"dev_{metric}_seed_mean", "on_front_across_strategies", "params_json"]
    rows = [[p.strategy, p.config.trial, p.config.values[metric], *[p.config.values[c] for c in results.costs],
             p.score and p.score.mean, p.score and p.score.std, len(p.config.seed_runs), p.dev and p.dev.mean,
             p.overall, json.dumps(p.config.params, sort_keys=True)] for p in points]
    return to_csv(header, rows)


def front_notes(results: ComparisonRecord, points: list[FrontPoint]) -> list[str]:
    split, metric = SPLIT_NAMES[front_split(results)], results.task.metric
    costs = " and ".join(COST_DISPLAY[c].label for c in results.costs)
    sampler = results.settings.get("sampler", "tpe")
    how = "TPE's multi-objective mode" if sampler == "tpe" else f"the {sampler} sampler"
    seeds = results.settings.get("seeds", results.seeds)
    plural = "s" if seeds != 1 else ""
    seeded = sum(bool(p.config.seed_runs) for p in points)
    return [f"Each strategy's Pareto set: its tuning trials that no other trial of the same strategy beats on dev "
            f"{metric} (higher) and {costs} (lower) at once, from one multi-objective Optuna study per strategy "
            f"({how}, seeded; the first trial runs the strategy's defaults). Trials were not pruned: Optuna cannot "
            "prune multi-objective studies, so every trial trained to its end.",
            f"Dev {metric} and costs: the tuning trial's own run; dev is where configurations were selected, so it is "
            f"optimistic. {split.capitalize()} {metric}: mean ± sd over {seeds} seed re-run{plural} "
            f"of the configuration ({seeded} configurations were re-run: per strategy at most 3, spread evenly along "
            "its front from the best-scoring to the cheapest, all of them when the front has 3 or fewer).",
            "Front across strategies: no configuration of any strategy beats it on every objective. Bold: best in "
            "each column. Hyperparameter importance (figure *importance*) of a multi-objective study is Optuna's "
            "PED-ANOVA importance for reaching the Pareto set, not for the dev score alone."]


def configurations(results: ComparisonRecord) -> ComparisonRecord:
    """``results`` with each strategy that has re-run front configurations replaced by them, one candidate
    each (named ``strategy (trial n)``), for the recommender. Front configurations without seed runs are no
    candidates (they have no held-out score); every other strategy stays as it is."""
    expanded = {}
    for name, strategy in results.strategies.items():
        seeded = [config for config in strategy.front if config.seed_runs]
        if not seeded:  # single-objective, or no seed runs yet (the recommender says so)
            expanded[name] = strategy
        for config in seeded:
            label = configuration_label(name, config)
            best = BestTrial(trial=config.trial, value=config.values[results.task.metric], params=config.params)
            expanded[label] = replace(strategy, info=replace(strategy.info, name=label), best=best,
                                      seed_runs=config.seed_runs, front=[])
    return replace(results, strategies=expanded)
