"""Pareto fronts of points scored on several objectives, some maximised (a metric), some minimised (costs).

Plain Python, no torch and no numpy: the comparison (``studies``) picks each strategy's front and the
configurations that get seed re-runs with it, and the reports (``reports``) draw fronts and recommend
from them, so both must agree on one definition. It is Optuna's (``Study.best_trials``): a point is on
the front when no other point is at least as good on every objective and better on one. Equal points do
not dominate each other, so duplicates are on the front together.
"""

from __future__ import annotations

from typing import Sequence

# The objectives ``--objectives`` may minimise beside the task's metric (always first, maximised): costs
# every run measures, by name → the RunResult field that holds it.
COSTS = {"trainable_params": "trainable_params", "peak_memory": "peak_memory_bytes", "train_time": "train_seconds"}


def dominates(a: Sequence[float], b: Sequence[float], maximise: Sequence[bool]) -> bool:
    """``a`` is at least as good as ``b`` on every objective and strictly better on one."""
    if not len(a) == len(b) == len(maximise):
        raise ValueError(f"points of {len(a)} and {len(b)} values for {len(maximise)} objectives")
    better = False
    for x, y, up in zip(a, b, maximise):
        if (x < y) if up else (x > y):
            return False
        better = better or x != y
    return better


def front_indices(points: Sequence[Sequence[float]], maximise: Sequence[bool]) -> list[int]:
    """Indices of the points no other point dominates, in their given order (O(n²): fronts here are of
    tens of trials, not thousands)."""
    return [i for i, point in enumerate(points)
            if not any(dominates(other, point, maximise) for j, other in enumerate(points) if j != i)]


def spread(count: int, most: int) -> list[int]:
    """Up to ``most`` of ``count`` ordered items, evenly spaced by position and always both ends: the
    front's members chosen for seed re-runs (ordered best score first, so index 0 is the best-scoring
    one). ``spread(7, 3) == [0, 3, 6]``; with ``count <= most`` every index."""
    if most < 1:
        raise ValueError(f"must choose at least one item, got {most}")
    if count <= most:
        return list(range(count))
    if most == 1:
        return [0]
    return sorted({round(i * (count - 1) / (most - 1)) for i in range(most)})
