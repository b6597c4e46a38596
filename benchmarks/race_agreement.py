"""Does a race agree with an equal-budget comparison? ``python -m benchmarks.race_agreement RACE_DIR COMPARE_DIR``

The race's answer agrees when it is in the comparison's top group (reports.conclusions, the report's), judged at
the race's own margin and family-wise error: its chosen strategy, or every member of its group if it stopped
undetermined. Also prints whether every strategy's defaults
trial learned the same curve in both (training is deterministic, so the race's screen saw what the comparison's
first trials record), and what the screen would keep of the comparison (benchmarks.screen_replay). Exit 0 when
the race agrees, 1 when it does not.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from benchmarks.screen_replay import defaults_curve, replay_comparison
from peftbench.records import ComparisonRecord
from peftbench.schema import load_results
from reports.conclusions import conclude


@dataclass(frozen=True)
class Agreement:
    answer: list[str]  # the race's chosen strategy, or its undetermined group
    top_group: list[str]  # the comparison's
    outside: list[str]  # of the answer, those outside the top group
    curves_differ: list[str]  # strategies whose defaults trials' curves differ between the two

    @property
    def agrees(self) -> bool:
        return bool(self.answer) and not self.outside


def agreement(race: ComparisonRecord, comparison: ComparisonRecord) -> Agreement:
    answer = [race.race.answer] if race.race.answer else list(race.race.top_group)
    top = conclude(comparison, margin=race.race.margin, alpha=race.race.alpha).top_group
    differ = []
    for name, strategy in race.strategies.items():
        if name not in comparison.strategies:
            continue
        ours, theirs = defaults_curve(strategy), defaults_curve(comparison.strategies[name])
        shared = min(len(ours), len(theirs))
        if ours[:shared] != theirs[:shared]:
            differ.append(name)
    return Agreement(answer, top, [name for name in answer if name not in top], differ)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("race", help="a race's directory (runners.choose)")
    parser.add_argument("comparison", help="an equal-budget comparison's directory (runners.compare)")
    args = parser.parse_args(argv)
    race, comparison = load_results(args.race), load_results(args.comparison)
    result = agreement(race, comparison)
    print(f"race: {'use ' + result.answer[0] if race.race.answer else 'undetermined among ' + ', '.join(result.answer)}")
    print(f"comparison's top group at the race's margin ±{race.race.margin:g} "
          f"({len(result.top_group)} of {len(comparison.strategies)}): "
          f"{', '.join(result.top_group)}")
    print(f"agrees: {'yes' if result.agrees else 'no'}"
          + (f" ({', '.join(result.outside)} outside the top group)" if result.outside else ""))
    print(f"defaults trials' learning curves: {len(race.strategies) - len(result.curves_differ)} the same"
          + (f", differ for {', '.join(result.curves_differ)}" if result.curves_differ else ""))
    replayed = replay_comparison(args.comparison)
    print(f"the screen on the comparison: keeps {', '.join(replayed.kept)}; leader {replayed.leader} "
          f"({'kept' if replayed.leader in replayed.kept else 'screened'})")
    return 0 if result.agrees else 1


if __name__ == "__main__":
    raise SystemExit(main())
