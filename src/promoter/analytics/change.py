"""How the NPS changed from one period to another, and whether the change is more than
chance: the difference of two NPS against its 95% margin of error, compared only when
each period has enough answers."""

from __future__ import annotations

import math
from dataclasses import dataclass

from promoter.domain.nps import Z95, NpsSummary

#: The fewest answers a period (or a group) needs before its NPS is compared with
#: another's. Below it the normal approximation behind the margin is poor and the margin
#: so wide (about ±40 points for two periods of 30) that a number would only mislead.
MIN_RESPONSES = 30


@dataclass(frozen=True, slots=True)
class NpsChange:
    """``points``: the NPS now minus the NPS before; ``margin``: the 95% margin of error of
    that difference, in points."""

    points: float
    margin: float

    @property
    def significant(self) -> bool:
        """The change is beyond its margin of error."""
        return abs(self.points) > self.margin


@dataclass(frozen=True, slots=True)
class TooFewToCompare:
    """Either period has fewer than ``minimum`` answers: no change is given."""

    now: int
    before: int
    minimum: int = MIN_RESPONSES


def nps_variance(summary: NpsSummary) -> float:
    """The variance of one NPS as a proportion: (p + d - (p - d)^2) / n."""
    p = summary.promoters / summary.responses
    d = summary.detractors / summary.responses
    return (p + d - (p - d) ** 2) / summary.responses


def difference_error(first: NpsSummary, second: NpsSummary) -> float:
    """The standard error of the difference of two NPS of independent samples, as a
    proportion: sqrt(var_first + var_second)."""
    return math.sqrt(nps_variance(first) + nps_variance(second))


def nps_change(now: NpsSummary, before: NpsSummary) -> NpsChange | TooFewToCompare | None:
    """The change from ``before`` to ``now``: None when either has no responses,
    TooFewToCompare when either has fewer than MIN_RESPONSES.

    The two periods' responses are independent samples, so the standard error of the
    difference is sqrt(var_now + var_before); the margin is 1.96 of them, in points.
    """
    if now.responses == 0 or before.responses == 0:
        return None
    if min(now.responses, before.responses) < MIN_RESPONSES:
        return TooFewToCompare(now.responses, before.responses)
    assert now.nps is not None and before.nps is not None
    error = difference_error(now, before)
    return NpsChange(points=now.nps - before.nps, margin=Z95 * error * 100)
