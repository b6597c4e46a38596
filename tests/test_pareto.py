"""``peftbench.pareto`` against fronts worked out by hand, and against Optuna's own front on a real study."""

from __future__ import annotations

import optuna
import pytest

from peftbench.pareto import dominates, front_indices, spread

SCORE_AND_COST = (True, False)  # (dev accuracy ↑, trainable parameters ↓)


@pytest.mark.parametrize("a,b,expected", [
    ((0.9, 10), (0.8, 20), True),    # better on both
    ((0.9, 20), (0.8, 20), True),    # better score, same cost
    ((0.9, 10), (0.9, 20), True),    # same score, cheaper
    ((0.9, 10), (0.9, 10), False),   # equal points never dominate each other
    ((0.9, 30), (0.8, 20), False),   # better but dearer: a trade-off
    ((0.8, 20), (0.9, 10), False),
])
def test_dominates_with_a_maximised_score_and_a_minimised_cost(a, b, expected):
    assert dominates(a, b, SCORE_AND_COST) is expected


def test_one_point_is_its_own_front():
    assert front_indices([(0.5, 100)], SCORE_AND_COST) == [0]


def test_empty_has_no_front():
    assert front_indices([], SCORE_AND_COST) == []


def test_all_dominated_but_one():
    points = [(0.70, 300), (0.91, 100), (0.80, 200), (0.90, 100), (0.60, 500)]
    assert front_indices(points, SCORE_AND_COST) == [1]


def test_a_staircase_by_hand():
    # cost:   50   100  100   200  400  800
    # score: .80  .85  .83   .85  .90  .88
    points = [(0.80, 50), (0.85, 100), (0.83, 100), (0.85, 200), (0.90, 400), (0.88, 800)]
    # (.83,100) loses to (.85,100); (.85,200) to (.85,100); (.88,800) to (.90,400)
    assert front_indices(points, SCORE_AND_COST) == [0, 1, 4]


def test_duplicates_are_on_the_front_together_and_ties_on_one_objective_are_not():
    points = [(0.85, 100), (0.85, 100), (0.85, 120), (0.90, 300)]
    assert front_indices(points, SCORE_AND_COST) == [0, 1, 3]


def test_directions_matter():
    points = [(1.0, 1.0), (2.0, 2.0), (1.5, 3.0)]
    assert front_indices(points, (True, True)) == [1, 2]      # maximise both: (1, 1) loses to both others
    assert front_indices(points, (True, False)) == [0, 1]     # (1.5, 3) loses to (2, 2)
    assert front_indices(points, (False, False)) == [0]       # minimise both
    assert front_indices(points, (False, True)) == [0, 2]     # (2, 2) loses to (1.5, 3)


def test_three_objectives():
    # (score ↑, parameters ↓, memory ↓)
    points = [(0.9, 100, 50), (0.9, 100, 40), (0.8, 10, 60), (0.8, 20, 60), (0.95, 500, 45)]
    assert front_indices(points, (True, False, False)) == [1, 2, 4]


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError):
        dominates((1.0, 2.0), (1.0,), SCORE_AND_COST)


@pytest.mark.parametrize("count,most,expected", [
    (0, 3, []), (1, 3, [0]), (3, 3, [0, 1, 2]), (4, 3, [0, 2, 3]), (5, 3, [0, 2, 4]), (7, 3, [0, 3, 6]),
    (10, 4, [0, 3, 6, 9]), (6, 2, [0, 5]), (6, 1, [0]),
])
def test_spread_keeps_both_ends_and_spaces_the_rest(count, most, expected):
    assert spread(count, most) == expected


def test_agrees_with_optunas_front_on_a_real_study():
    study = optuna.create_study(directions=["maximize", "minimize", "minimize"],
                                sampler=optuna.samplers.RandomSampler(seed=3))
    study.optimize(lambda t: (round(t.suggest_float("a", 0, 1), 1), t.suggest_int("b", 1, 4),
                              t.suggest_int("c", 1, 3)), n_trials=60)
    trials = study.trials
    ours = {trials[i].number for i in front_indices([t.values for t in trials], (True, False, False))}
    assert ours == {t.number for t in study.best_trials}
    assert len(ours) >= 3
