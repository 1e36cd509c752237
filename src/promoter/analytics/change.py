"""How the NPS changed from one period to another, and whether the change is more than
chance: the difference of two NPS against its 95% margin of error."""

from __future__ import annotations

import math
from dataclasses import dataclass

from promoter.domain.nps import Z95, NpsSummary


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


def nps_variance(summary: NpsSummary) -> float:
    """The variance of one NPS as a proportion: (p + d - (p - d)^2) / n."""
    p = summary.promoters / summary.responses
    d = summary.detractors / summary.responses
    return (p + d - (p - d) ** 2) / summary.responses


def nps_change(now: NpsSummary, before: NpsSummary) -> NpsChange | None:
    """The change from ``before`` to ``now`` (None when either has no responses).

    The two periods' responses are independent samples, so the standard error of the
    difference is sqrt(var_now + var_before); the margin is 1.96 of them, in points.
    """
    if now.responses == 0 or before.responses == 0:
        return None
    assert now.nps is not None and before.nps is not None
    error = math.sqrt(nps_variance(now) + nps_variance(before))
    return NpsChange(points=now.nps - before.nps, margin=Z95 * error * 100)
