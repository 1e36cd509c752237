"""The demo's calendar, relative to ``now``: the year it covers, the pricing change, the
monthly relationship surveys; and moments drawn at random in it."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Clock:
    now: datetime
    #: The start of the generated history (a little over a year, so 12 full months).
    start: datetime
    #: The pricing change that made scores dip for a while.
    pricing_change: datetime
    #: Relationship surveys, sent each month to a sample of contacts.
    blasts: tuple[datetime, ...]

    @classmethod
    def at(cls, now: datetime) -> Clock:
        day = now.replace(hour=14, minute=0, second=0, microsecond=0)
        return cls(
            now=now,
            start=now - timedelta(days=395),
            pricing_change=(now - timedelta(days=200)).replace(
                day=1, hour=9, minute=0, second=0, microsecond=0
            ),
            blasts=tuple(day - timedelta(days=25 + 30 * i) for i in range(12)),
        )


def between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment between ``start`` and ``end``."""
    return start + (end - start) * rng.random()


def moments(rng: random.Random, start: datetime, end: datetime, per_month: float) -> list[datetime]:
    """Moments of a Poisson process of ``per_month`` between ``start`` and ``end``."""
    out: list[datetime] = []
    if per_month <= 0:
        return out
    at = start
    mean_gap = 30.4 * 86400 / per_month
    while True:
        at += timedelta(seconds=rng.expovariate(1 / mean_gap))
        if at >= end:
            return out
        # People work in the daytime, mostly on weekdays.
        if at.weekday() >= 5 and rng.random() < 0.7:
            continue
        out.append(at.replace(microsecond=0))
