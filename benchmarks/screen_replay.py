"""What a race's screen would have dropped from a comparison: ``python -m benchmarks.screen_replay DIR [DIR ...]``.

A race's round 1 screens the strategies' defaults trials by rank at their first dev evaluations (studies.race,
``--screen``), not by a test, so it has no error rate of its own; this measures it where the truth is known as
well as it can be. A comparison's first tuning trial of every strategy is its defaults, trained with the same seed
and data as a race's, so its learning curve is the one the race's screen sees (training is deterministic): the
screen is replayed on those curves, in the comparison's order of strategies (one worker runs them in that order),
and what it drops is set against the comparison's top group (reports.conclusions, the report's). Prints one block
per comparison. Dropping top-group members only narrows the race's answer; exit 1 when the screen kept no member
of some comparison's top group (the race could then not answer within it), else 0.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from peftbench.schema import load_results
from reports.conclusions import conclude
from studies.race import SCREEN_RUNGS, goes_on


@dataclass(frozen=True)
class Replay:
    screened: dict[str, int]  # strategy → the samples after which the screen stopped it
    kept: list[str]
    top_group: list[str]
    leader: str | None

    @property
    def lost(self) -> list[str]:
        """Members of the comparison's top group the screen would have dropped."""
        return [name for name in self.top_group if name in self.screened]

    @property
    def outside(self) -> list[str]:
        """Kept strategies outside the top group: the race's tests must drop these, or its answer disagrees."""
        return [name for name in self.kept if name not in self.top_group]


def defaults_curve(strategy) -> list[tuple[int, float]]:
    """(samples, dev value) at each evaluation of a strategy's defaults trial (its first) before its last, in
    order: a trial that trained to its end has nothing left to screen at its last evaluation."""
    first = min(strategy.trials, key=lambda trial: trial.number, default=None)
    points = [(int(samples), float(value)) for samples, value in (first.intermediate if first else [])]
    return points[:-1] if first is not None and first.state == "COMPLETE" else points


def replay(curves: dict[str, list[tuple[int, float]]]) -> dict[str, int]:
    """The screen on these curves (``defaults_curve``), strategy by strategy in order (each runs its whole defaults
    trial before the next): at each of its first SCREEN_RUNGS evaluations, a strategy goes on only if ``goes_on``
    against the earlier strategies' values at the same point. Returns the screened ones and where."""
    seen: dict[int, list[float]] = {}
    screened: dict[str, int] = {}
    for name, curve in curves.items():
        for samples, value in curve[:SCREEN_RUNGS]:
            others = list(seen.get(samples, []))
            seen.setdefault(samples, []).append(value)
            if not goes_on(value, others):
                screened[name] = samples
                break
    return screened


def replay_comparison(directory: str) -> Replay:
    record = load_results(directory)
    curves = {name: defaults_curve(strategy) for name, strategy in record.strategies.items()}
    screened = replay(curves)
    conclusions = conclude(record)
    ranking = conclusions.analysis.ranking if conclusions.analysis else []
    return Replay(screened, [name for name, strategy in record.strategies.items()
                             if name not in screened and strategy.trials],
                  conclusions.top_group, ranking[0] if ranking else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directories", nargs="+", help="comparison directories (each with its results.json)")
    args = parser.parse_args(argv)
    missed = False
    for directory in args.directories:
        result = replay_comparison(directory)
        missed |= not set(result.kept) & set(result.top_group)
        print(f"{directory}: screened {len(result.screened)} of {len(result.screened) + len(result.kept)}; "
              f"kept {', '.join(result.kept)}")
        print(f"  top group ({len(result.top_group)}): {', '.join(result.top_group) or 'none'}; leader "
              f"{result.leader} ({'kept' if result.leader in result.kept else 'screened'})")
        print(f"  top-group members screened: "
              f"{', '.join(f'{n} (at {result.screened[n]:,})' for n in result.lost) or 'none'}; "
              f"kept outside the top group: {', '.join(result.outside) or 'none'}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
