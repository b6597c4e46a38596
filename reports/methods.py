"""``report/methods.md``: the setup paragraph a paper's methods section needs, written from ``results.json`` alone,
so that it says exactly what was run: model, data and splits, budget, search, seeds and the statistics behind
every verdict."""

from __future__ import annotations

from peftbench.records import SPLIT_NAMES, ComparisonRecord
from peftbench.units import format_count
from reports.tables import MainTable

# how a paper names studies.compare's samplers and pruners
PRUNER_NAMES = {"halving": "successive-halving", "median": "median", "hyperband": "Hyperband", "none": "no"}
SAMPLER_NAMES = {"tpe": "TPE", "random": "random"}


def names(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" and {items[-1]}"


def methods_markdown(results: ComparisonRecord, table: MainTable) -> str:
    """One paragraph of setup and one of statistics, with the versions that produced them."""
    settings, task, sizes = results.settings, results.task, results.task.sizes
    strategies = [row.strategy for row in table.rows]
    train = sizes.get("train", 0)
    subset = (f"a stratified subset of {train:,} of its {task.full_train_size:,} training examples (seed "
              f"{settings.get('data_seed', 0)})" if task.full_train_size and train < task.full_train_size
              else f"its {train:,} training examples")
    batch = "/".join(str(size) for size in settings.get("batch_sizes", []))
    budget = results.budget
    spend = (f"{budget.per_strategy:g} trials per strategy" if budget.kind == "trials"
             else f"{budget.per_strategy:g} {budget.kind} of tuning per strategy")
    if results.race is not None:
        spend = (f"up to {spend} in a race (`runners.choose`) that stopped spending on a strategy once another was "
                 f"shown better")
    startup = settings.get("startup_trials")
    sampler = SAMPLER_NAMES.get(settings.get("sampler"), settings.get("sampler"))
    search = (f"Hyperparameters were tuned with Optuna's {sampler} sampler"
              + (f" (its first {startup} trials not model-guided)" if sampler == "TPE" and startup else "")
              + f" and {PRUNER_NAMES.get(settings.get('pruner'), settings.get('pruner'))} pruning at "
              f"{settings.get('evals_per_epoch')} dev evaluations per epoch, {spend}"
              + (", the first of which ran the strategy's default configuration" if settings.get("first_trial") ==
                 "defaults" else "") + ", selecting on the dev split")
    held = SPLIT_NAMES[table.split]
    model = results.model
    setup = (f"We compare {len(strategies)} fine-tuning strategies ({names(strategies)}) on {task.name} with "
             f"{model.name}" + (f" ({format_count(model.total_params)} parameters)" if model.total_params else "")
             + f", each training a linear head on pooled encoder features. Each run trains on {subset} for at most "
             f"{settings.get('epochs')} epoch(s) at batch size {batch}, inputs cut at {settings.get('max_length')} "
             f"tokens. Splits: {task.splits.describe(sizes)}. {search}. The best configuration of each strategy "
             f"was re-trained with {results.seeds} seeds and scored on the {held} split, which the search never "
             f"saw.")
    conclusions = table.conclusions
    analysis = conclusions.analysis
    if analysis is not None:
        pairs = len(analysis.pairs)
        statistics = (f"We report the mean {task.metric} over seeds with a 95% interval ({analysis.method}). Two "
                      f"strategies are called *better*, *equivalent* (within ±{analysis.margin:g}) or "
                      f"*undetermined* from simultaneous {1 - analysis.alpha:.0%} intervals of their differences, "
                      f"Bonferroni-corrected over all {pairs} pairs; the top group is the best estimate and every "
                      f"strategy not shown worse than it ({names(analysis.top_group)}).")
    else:
        statistics = f"No verdicts were computed: {conclusions.unavailable}."
    versions = results.environment.get("versions", {})
    tools = ", ".join(f"{name} {version}" for name, version in sorted(versions.items()))
    return (f"# Methods\n\nGenerated from `results.json` by `python -m runners.report`; edit freely.\n\n{setup}\n\n"
            f"{statistics}\n\nSoftware: {tools or 'versions not recorded'}.\n")
