"""The records peftbench writes and reads, each declared once: a training run's (:class:`RunResult`), a
comparison's (:class:`ComparisonRecord` and what it holds), and the pieces they share. The writers (the core,
``studies.results``) build these dataclasses and the readers (``peftbench.schema``, the reports, export, the
trackers) get them back, so a field added here is written and read alike. Torch-free: the reports import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peftbench.strategy import StrategyInfo

NOT_STORED = {"stored": False}  # field metadata: kept in memory, never written to JSON (peftbench.schema)

SPLIT_NAMES = {"test": "held-out", "dev": "dev"}  # how every number's split key is named where people read it
# Where a split comes from (SplitSources): a file of the task's own, or rows carved from the training file.
DEV_FILE, TEST_FILE_SOURCE, CARVED = "dev file", "test file", "carved from train"


@dataclass(frozen=True)
class SplitSources:
    """Where a task's dev split (selection and pruning) and held-out split (the final scores) come from, as data;
    :meth:`describe` is the one sentence every report prints about it."""

    dev: str  # DEV_FILE or CARVED
    heldout: str | None  # DEV_FILE, TEST_FILE_SOURCE, CARVED, or None: no held-out split
    seed: int | None = None  # the seed of the rows carved from train (stratified), if any were

    def describe(self, sizes: dict[str, int]) -> str:
        """E.g. "held-out: the dev file (872 examples); dev: 1,000 examples carved from train (seed 0, stratified)"."""
        def part(source: str, rows: int) -> str:
            carved = f" (seed {self.seed}, stratified)" if source == CARVED and self.seed is not None else ""
            return f"{rows:,} examples carved from train{carved}" if source == CARVED else f"the {source} ({rows:,} examples)"

        heldout = part(self.heldout, sizes.get("test", 0)) if self.heldout else "none"
        return f"held-out: {heldout}; dev: {part(self.dev, sizes.get('dev', 0))}"


@dataclass
class Evaluation:
    """One evaluation on dev during training; what the callbacks (e.g. Optuna pruning) receive."""

    step: int
    samples_seen: int
    epoch: int
    metrics: dict[str, float]
    value: float  # the task's primary metric
    last: bool = False  # the run's final step: nothing is left to save by stopping here


@dataclass
class DeployedCost:
    """What one form of a trained model costs to run (``peftbench.inference``)."""

    latency_ms: float  # per example at batch 1: median over timed passes over the sample
    throughput: float  # examples per second at ``InferenceCost.batch_size``: median over timed passes
    memory_bytes: int  # parameters and buffers in memory (4-bit weights packed, with their constants)
    # the fastest and the slowest timed pass, per example at batch 1: an interval for the median pass
    # (InferenceCost.range_coverage); None in files written before it was recorded
    latency_range_ms: tuple[float, float] | None = None


@dataclass
class InferenceCost:
    """A trained model's inference cost as deployed, as trained and (where peft can merge its adapter into
    the base weights) merged, and what exactly was measured."""

    as_trained: DeployedCost  # adapters as side paths or extra layers, prompts prepended, 4-bit base as trained
    merged: DeployedCost | None  # the adapter merged in (peft merge_and_unload); None: see merge_note
    merge_note: str | None  # why nothing was merged, or that merged predictions differ from the trained ones
    max_logit_difference: float | None  # merged vs as trained on the sample: max |Δlogit|
    predictions_equal: bool | None  # max_logit_difference ≤ tolerance
    tolerance: float
    examples: int  # sample rows from dev, timed one by one and in batches of batch_size
    batch_size: int
    passes: int  # timed passes, after warmup_passes untimed ones
    warmup_passes: int
    mean_tokens: float  # mean tokens per sample row (before any virtual tokens)
    threads: int  # torch's CPU threads
    seconds: float  # what the measurement added to the run

    @property
    def range_coverage(self) -> float:
        """The chance that the fastest and slowest of ``passes`` independent passes bracket the median pass's
        time: 1 − 2·0.5^passes (each pass falls either side of the median with probability ½), whatever the
        shape of the timing noise."""
        return 1 - 2 * 0.5 ** self.passes

    def forms(self) -> list[DeployedCost]:
        """The forms that give the trained model's predictions: as trained, and merged where merging kept them."""
        return [self.as_trained] + ([self.merged] if self.merged is not None and self.predictions_equal else [])


@dataclass
class RunResult:
    """The record of one run: what it scored, what it cost, and exactly what produced it."""

    task: str
    model: str
    strategy: str
    seed: int
    hyperparameters: dict[str, Any]
    primary_metric: str
    metrics: dict[str, dict[str, float | None]]  # split name ("dev", "test") → metric → value (None: undefined)
    trainable_params: int
    total_params: int
    peak_memory_bytes: int
    memory_kind: str
    train_seconds: float
    eval_seconds: float
    train_samples_per_second: float
    train_samples_seen: int
    train_tokens_seen: int
    steps: int
    stopped_early: bool
    artifact_bytes: int
    artifact_path: str | None
    learning_curve: list[dict[str, float | None]]
    data_sizes: dict[str, int]
    data_notes: list[str]
    device: str
    precision: str
    versions: dict[str, str]
    feature_seconds: float = 0.0  # frozen encoder: computing the cached features (included in train/eval time)
    strategy_info: StrategyInfo | None = None  # what the strategy declares of itself: what reports need
    dropped_rows: dict[str, dict[str, int]] = field(default_factory=dict)  # --drop-invalid-rows: file → reason → n
    inference: InferenceCost | None = None  # TrainConfig.measure_inference: the trained model's inference cost
    repeats_trial: int | None = None  # a comparison's seed run that is its tuning trial rescored, not retrained
    # split → each row's prediction in the split's row order: the class (classification) or the score
    # (regression), with the weights scored in ``metrics``. What the reports' statistics resample (rows as well
    # as seeds); None in records written before they were kept.
    predictions: dict[str, list[int] | list[float]] | None = None

    @property
    def trainable_percent(self) -> float:
        return 100.0 * self.trainable_params / max(self.total_params, 1)

    def score(self, split: str = "dev") -> float | None:
        """The primary metric on ``split``; None where it is undefined or the split was not scored."""
        return self.metrics.get(split, {}).get(self.primary_metric)


# ----------------------------------------------------------------------------- a comparison (results.json)
@dataclass(frozen=True)
class TaskRecord:
    name: str
    metric: str  # the primary metric: higher is better
    num_labels: int  # 1: regression
    source: str
    sizes: dict[str, int]  # split → rows
    full_train_size: int | None  # training rows available before subsampling
    protocol: str  # dev-from-train | heldout-from-train | test-file | "" (peftbench.tasks.PROTOCOLS)
    splits: SplitSources
    notes: list[str]  # everything else worth saying about the data (dropped rows, a train size capped, ...)
    metric_reason: str = ""  # why runs were selected and ranked on ``metric`` (a custom task's default, or --metric)
    # split → its gold labels in row order (the row ids of every run's ``predictions``); None before they were kept
    labels: dict[str, list[int] | list[float]] | None = None


@dataclass(frozen=True)
class TrialRecord:
    number: int
    state: str  # COMPLETE | PRUNED | FAIL
    params: dict[str, Any]
    value: float | None  # the dev metric (also of a multi-objective trial); None if it failed
    duration_seconds: float | None
    samples_seen: int
    intermediate: list[tuple[float, float]]  # (samples seen, dev metric) at each evaluation
    reason: str | None  # why it was pruned or failed
    retry_of: int | None = None  # the number of the killed trial whose slot and parameters this one re-ran
    values: dict[str, float] | None = None  # multi-objective: each objective's value (the metric first)


@dataclass(frozen=True)
class FrontConfig:
    """A configuration on a strategy's Pareto set (multi-objective comparisons, ``--objectives``)."""

    trial: int  # the tuning trial that found it
    values: dict[str, float]  # objective → value on dev: the metric (maximised), then the costs (minimised)
    params: dict[str, Any]  # every searched value
    strategy_params: dict[str, Any]  # the strategy's own hyperparameters among them
    seed_runs: list[RunResult]  # empty unless it is one of the configurations re-run with seeds


@dataclass(frozen=True)
class Failure:
    """Why a strategy has no result, or fewer seed runs than asked for: the first failed run's error."""

    message: str  # the first line of its reason (exception type and message)
    log: str  # the log holding the traceback, relative to the comparison directory


@dataclass(frozen=True)
class BestTrial:
    trial: int
    value: float
    params: dict[str, Any]


@dataclass(frozen=True)
class StrategyRecord:
    info: StrategyInfo  # what the strategy declares of itself: family, label, reference, ...
    status: str  # done | running | partial | failed | pending
    study_name: str
    trials: list[TrialRecord]
    spent: dict[str, float]  # trials, samples, seconds
    best: BestTrial | None
    param_importance: dict[str, float] | None
    seed_runs: list[RunResult]
    front: list[FrontConfig] = field(default_factory=list)  # multi-objective: its Pareto set, best score first
    error: Failure | None = None  # status partial or failed: what went wrong, and where to read more

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def best_trial(self) -> int | None:
        return self.best.trial if self.best else None

    @property
    def best_params(self) -> dict[str, Any]:
        return self.best.params if self.best else {}

    def best_record(self) -> TrialRecord | None:
        return next((t for t in self.trials if t.number == self.best_trial), None)

    def scores(self, split: str, metric: str) -> dict[int, float]:
        """Seed → score on ``split``, for the seed runs that have it."""
        return {r.seed: r.metrics[split][metric] for r in self.seed_runs
                if r.metrics.get(split, {}).get(metric) is not None}

    @property
    def inference(self) -> InferenceCost | None:
        """The inference cost of its trained model (measured once, on the lowest seed that has it)."""
        return next((r.inference for r in sorted(self.seed_runs, key=lambda r: r.seed) if r.inference), None)


@dataclass(frozen=True)
class ModelRecord:
    name: str
    total_params: int | None


@dataclass(frozen=True)
class Budget:
    kind: str  # trials | samples | seconds
    per_strategy: float


@dataclass(frozen=True)
class RaceLook:
    """One strategy at one look of a race (``runners.choose``): what it had cost and scored, and where it stood."""

    look: int  # 1, 2, ...: the looks after each round
    seconds: float  # since the race started
    strategy: str
    configuration: int  # the tuning trial whose configuration its seed runs re-ran
    seed_runs: int
    samples: int  # training samples its runs had seen so far, tuning trials and seed runs
    run_seconds: float  # what its runs had taken so far
    estimate: float | None  # its score on the racing split (None: fewer than 2 seed runs)
    low: float | None
    high: float | None
    status: str  # racing | dropped | excluded | finished
    reason: str | None = None  # why it was dropped or excluded
    alpha: float | None = None  # the alpha this look tested at (its share of the race's); None: no test, or a file
    # written before races spent alpha by progress (each look then tested at the race's alpha / looks)


@dataclass(frozen=True)
class RaceRecord:
    """How a race went and what it answered: which strategy (or that it could not tell), and its trace."""

    margin: float  # equivalence margin, in the metric's units
    alpha: float  # the family-wise error of every drop together (each look tests at its share, RaceLook.alpha)
    looks: int  # the most looks the race may take
    split: str  # the split the race compared on (the held-out split, where there is one)
    budget_kind: str  # seconds | runs
    budget: float
    prefer: str  # the cost that chooses among strategies left equivalent
    stopped: str | None  # "one left" | "all equivalent" | "budget" | "seeds"; None while it runs
    answer: str | None  # the strategy to use; None: undetermined
    top_group: list[str]  # the strategies still in at the end (the answer alone, or those left)
    unmeasured: list[str]  # strategies the budget ran out before they had 2 seed runs
    failed: list[str]  # strategies whose runs failed (their records say why): no result
    reproducible: bool  # a run budget, one worker, a seeded sampler
    trace: list[RaceLook]
    screened: list[str] = field(default_factory=list)  # dropped by round 1's screen (by rank, not by a test)
    spending_power: float | None = None  # the looks together spend alpha · p ** this by progress p through the race;
    # None: a file written before, whose looks each tested at alpha / looks
    tuning_trials: list[int] | None = None  # the tuning trials each strategy still in had after each round (the rest
    # of the budget's run once the budget left paid for them); None: a file written before, whose round 2 always tuned

    def departures(self) -> list[RaceLook]:
        """The look at which each strategy that left the race (dropped or excluded) left it, with why."""
        return [look for look in self.trace if look.status in ("dropped", "excluded")]


@dataclass(frozen=True)
class ComparisonRecord:
    """One comparison: a task, a model, and every strategy's trials and seed runs (``results.json``)."""

    schema_version: int
    kind: str
    complete: bool
    created: str
    updated: str
    task: TaskRecord
    model: ModelRecord
    preset: str
    settings: dict[str, Any]  # every resolved setting (the study identity, seeds, sampler, pruner, workers, ...)
    budget: Budget
    storage: str  # passwords redacted
    environment: dict[str, Any]
    parallel: bool  # trials ran on several workers: not reproducible
    strategies: dict[str, StrategyRecord]
    partial: list[str] = field(default_factory=list)  # requested strategies without every seed run, once complete
    skipped: dict[str, str] = field(default_factory=dict)  # requested, but not run: they cannot run here (why)
    race: RaceRecord | None = None  # a race's answer and trace (runners.choose); None for a comparison
    directory: Path | None = field(default=None, metadata=NOT_STORED)  # where it was read from

    @property
    def costs(self) -> list[str]:
        """The objectives minimised beside the metric (--objectives); none for one objective."""
        return list(self.settings.get("cost_objectives") or [])

    @property
    def objectives(self) -> list[str]:
        return [self.task.metric, *self.costs]

    @property
    def model_short(self) -> str:
        return self.model.name.rstrip("/").split("/")[-1]

    @property
    def device(self) -> str:
        devices = sorted({r.device for s in self.strategies.values() for r in s.seed_runs})
        return ", ".join(devices) or str(self.environment.get("device", "unknown device"))

    @property
    def seeds(self) -> int:
        return max((len(s.seed_runs) for s in self.strategies.values()), default=0)
