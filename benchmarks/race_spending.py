"""How a race should share alpha over its looks: each rule in the simulated races of tests/test_race.py (the same
model of seed runs, rounds and budgets), at a budget the race ends after 2 looks and one that gives it all 9.

    python -m benchmarks.race_spending [--simulations 500]

For each rule and budget it prints how often the truly best strategy was dropped (the error the race states, at
most alpha), how often the strategies 4 and 6 points behind were dropped (the race's power), the mean time the
one 6 points behind left at, and how often 5 equal strategies lost one. Rules: alpha ÷ looks at every look (the
race before 2026-12-06) and spending alpha · p ** power by progress p, for powers 1, 2 and 3.
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np

from studies.race import look_alpha
from tests.test_race import LONG, RACE, SHORT, simulated_race

TRUTH = [0.84, 0.82, 0.82, 0.80, 0.78]
RULES = {"alpha / 9 looks": lambda before, now: RACE.alpha / RACE.looks,
         **{f"spend p^{power}": partial(look_alpha, RACE.alpha, power=power) for power in (1, 2, 3)}}


def dropped(races, name: str) -> float:
    return float(np.mean([any(name in out for _, out in looks) for looks in races]))


def left_at(races, name: str) -> float:
    """The mean time (in run lengths) at which ``name`` was dropped, over the races that dropped it."""
    times = [next(clock for clock, out in looks if name in out) for looks in races if any(name in out for _, out in looks)]
    return float(np.mean(times)) if times else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--simulations", type=int, default=500)
    args = parser.parse_args()
    print(f"{'rule':<16} {'budget':>6} {'best out':>9} {'-4 pt out':>9} {'-6 pt out':>9} {'-6 pt at':>8} {'equal lost':>10}")
    for budget in (SHORT, LONG):
        for rule, alpha_at in RULES.items():
            rng = np.random.default_rng(0)
            races = [simulated_race(rng, TRUTH, budget, alpha_at) for _ in range(args.simulations)]
            equal = [simulated_race(rng, [0.82] * 5, budget, alpha_at) for _ in range(args.simulations)]
            lost = float(np.mean([any(out for _, out in looks) for looks in equal]))
            print(f"{rule:<16} {budget:>6} {dropped(races, 's0'):>9.3f} {dropped(races, 's3'):>9.3f} "
                  f"{dropped(races, 's4'):>9.3f} {left_at(races, 's4'):>8.1f} {lost:>10.3f}", flush=True)


if __name__ == "__main__":
    main()
