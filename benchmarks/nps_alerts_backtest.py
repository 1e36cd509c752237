"""NPS alerts backtest: how often Promoter's comparisons cry wolf, and how often they see a
real drop, on simulated weeks of answers.

Every comparison is the shipping code's: ``nps_change`` (the Overview's change from the
week before), ``differences`` (the breakdown's rows against the rest, Benjamini-Hochberg
at 5%), and the alert rule, ``promoter.alerts.rule.moved`` (each segment's latest weeks
against its weeks before, Benjamini-Hochberg at its 4% across the segments), over several
pairs of windows; the alerts ship the pair (LATEST_WEEKS, BEFORE_WEEKS). Seeded and deterministic;
a few seconds. See benchmarks/README.md.

    .venv/bin/python benchmarks/nps_alerts_backtest.py [--weeks 1000] [--trials 1000]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass

import numpy as np

from promoter.alerts.rule import BEFORE_WEEKS, LATEST_WEEKS, moved
from promoter.analytics.change import NpsChange, nps_change
from promoter.analytics.significance import differences
from promoter.domain.nps import Z95, NpsSummary

#: Shares of promoters, passives, detractors: NPS +20. The planted drop moves five points
#: of promoters to detractors: NPS +10.
MIX = (0.45, 0.30, 0.25)
DROPPED = (0.40, 0.30, 0.30)
#: Expected answers a week per segment (each week's count is Poisson around it); the drop
#: is planted in the first, the segment of about 500 answers a week.
SEGMENTS = {"Enterprise": 500, "Pro": 400, "Team": 300, "Starter": 200, "Free": 100}
#: Segment monitor windows: (latest weeks, weeks before them it is compared with); the
#: alerts ship (LATEST_WEEKS, BEFORE_WEEKS).
SHIPPED = (LATEST_WEEKS, BEFORE_WEEKS)
WINDOWS = tuple(sorted({(1, 4), (1, 12), (2, 8), (3, 8), (4, 8), SHIPPED}))
FALSE_ALARM_TARGET = 0.05
DETECTION_TARGET = 0.90


@dataclass(frozen=True)
class Rate:
    hits: int
    trials: int

    @property
    def value(self) -> float:
        return self.hits / self.trials

    def __str__(self) -> str:
        # With its binomial standard error: the spread of the rate itself over seeds.
        error = math.sqrt(self.value * (1 - self.value) / self.trials)
        return f"{100 * self.value:5.1f}% ± {100 * error:.1f} ({self.hits}/{self.trials})"


def simulate(rng: np.random.Generator, weeks: int, planted_from: int | None) -> np.ndarray:
    """Counts (weeks, segments, [promoters, passives, detractors]); the first segment has
    the dropped mix from week ``planted_from`` on."""
    sizes = np.array(list(SEGMENTS.values()))
    n = rng.poisson(sizes, size=(weeks, len(sizes)))
    counts = rng.multinomial(n, MIX)
    if planted_from is not None:
        counts[planted_from:, 0] = rng.multinomial(n[planted_from:, 0], DROPPED)
    return counts


def summary(counts: np.ndarray) -> NpsSummary:
    """The summary of counts summed over every axis but the last."""
    p, passives, d = (int(x) for x in counts.reshape(-1, 3).sum(axis=0))
    return NpsSummary.of(p + passives + d, p, d)


def monitor(counts: np.ndarray, t: int, latest: int, before: int) -> list[tuple[bool, bool]]:
    """Per segment, (flagged, lower): the alert rule on its weeks t-latest+1..t against
    the ``before`` weeks ahead of them, all segments in one run."""
    pairs = [
        (
            summary(counts[t - latest + 1 : t + 1, s]),
            summary(counts[t - latest - before + 1 : t - latest + 1, s]),
        )
        for s in range(counts.shape[1])
    ]
    return [(m is not None, m is not None and m.direction == "down") for m in moved(pairs)]


def no_change(rng: np.random.Generator, weeks: int) -> dict[str, Rate]:
    """False alarms over ``weeks`` weeks in which nothing changes."""
    history = max(latest + before for latest, before in WINDOWS)
    counts = simulate(rng, weeks + history, None)
    alarms = {"overview": 0, "breakdown": 0} | {f"monitor {w}": 0 for w in WINDOWS}
    for t in range(history, weeks + history):
        change = nps_change(summary(counts[t]), summary(counts[t - 1]))
        alarms["overview"] += isinstance(change, NpsChange) and change.significant
        rows = [summary(counts[t, s]) for s in range(counts.shape[1])]
        found = differences(rows, summary(counts[t]))
        alarms["breakdown"] += any(f is not None and f.differs for f in found)
        for w in WINDOWS:
            alarms[f"monitor {w}"] += any(flag for flag, _ in monitor(counts, t, *w))
    return {name: Rate(hits, weeks) for name, hits in alarms.items()}


def planted(rng: np.random.Generator, trials: int) -> dict[str, Rate]:
    """Detections of the first segment's 10-point drop, one fresh history per trial."""
    found = {"breakdown": 0} | {f"monitor {w}": 0 for w in WINDOWS}
    for _ in range(trials):
        for latest, before in WINDOWS:
            weeks = latest + before
            counts = simulate(rng, weeks, before)
            flag, lower = monitor(counts, weeks - 1, latest, before)[0]
            found[f"monitor {(latest, before)}"] += flag and lower
        week = counts[-1]  # a week of the drop
        rows = differences([summary(week[s]) for s in range(len(SEGMENTS))], summary(week))
        found["breakdown"] += bool(rows[0] and rows[0].differs == "lower")
    return {name: Rate(hits, trials) for name, hits in found.items()}


def power(answers_now: float, answers_before: float, mix: tuple[float, ...]) -> float:
    """The normal approximation's chance that a two-sided 5% test sees the drop, for one
    segment tested alone."""
    p, _, d = mix
    variance = p + d - (p - d) ** 2
    error = math.sqrt(variance / answers_now + variance / answers_before)
    z = 0.10 / error
    return 0.5 * math.erfc((Z95 - z) / math.sqrt(2))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--json", help="also write the rates to this file")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    alarms = no_change(rng, args.weeks)
    detections = planted(rng, args.trials)
    size = next(iter(SEGMENTS.values()))
    print(f"Mix {MIX} (NPS +20), segments {SEGMENTS} answers a week, seed {args.seed}")
    target = f"target <= {FALSE_ALARM_TARGET:.0%}"
    print(f"\nFalse alarms, {args.weeks} weeks without change ({target}):")
    for name, rate in alarms.items():
        print(f"  {name:28} {rate}")
    print(
        f"\nDetections of a 10-point drop in the {size}-a-week segment "
        f"(target >= {DETECTION_TARGET:.0%}):"
    )
    print(f"  {'breakdown':28} {detections['breakdown']}")
    for latest, before in WINDOWS:
        alone = power(size * latest, size * before, MIX)
        name = f"monitor {(latest, before)}"
        print(f"  {name:28} {detections[name]}  (one test alone, in theory: {alone:.0%})")
    shipped = f"monitor {SHIPPED}"
    met = (
        alarms[shipped].value <= FALSE_ALARM_TARGET
        and detections[shipped].value >= DETECTION_TARGET
    )
    print(
        f"\nThe alerts' rule, {SHIPPED[0]} weeks against the {SHIPPED[1]} before: false alarms "
        f"{alarms[shipped]}, detections {detections[shipped]}: "
        + ("both targets met" if met else "a target is NOT met")
    )
    if args.json:
        with open(args.json, "w") as out:
            rates = {"false_alarms": alarms, "detections": detections}
            json.dump({k: {n: r.value for n, r in v.items()} for k, v in rates.items()}, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
