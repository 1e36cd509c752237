"""How much one group of answers moves the NPS: the NPS of all answers minus the NPS of
the answers outside the group, with its 95% interval (delta method; the group and the
whole share answers, so they are not independent samples)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from promoter.analytics.change import MIN_RESPONSES
from promoter.analytics.significance import rest_of
from promoter.domain.nps import Z95, NpsSummary


@dataclass(frozen=True, slots=True)
class Impact:
    """``points``: NPS(all) - NPS(all but the group), in points: positive when the group
    lifts the NPS (without it the NPS would be that much lower). ``error``: its standard
    error in points; None when the group or the rest has fewer than MIN_RESPONSES answers."""

    points: float
    error: float | None

    @property
    def interval(self) -> tuple[float, float] | None:
        if self.error is None:
            return None
        return (self.points - Z95 * self.error, self.points + Z95 * self.error)

    @property
    def p_value(self) -> float | None:
        """Two-sided, of the hypothesis that the group does not move the NPS."""
        if self.error is None:
            return None
        if self.error == 0:
            return 1.0 if self.points == 0 else 0.0
        return math.erfc(abs(self.points) / self.error / math.sqrt(2))


def impact(group: NpsSummary, total: NpsSummary) -> Impact | None:
    """The group's impact on ``total`` (which holds it); None without answers outside it.

    Each answer counts x = +1 (promoter), 0 (passive) or -1 (detractor); with s the
    group's share, N the NPS and R the NPS of the rest (as proportions), the impact is
    N - R = s (N_group - R). Its influence function (delta method) is x - N for an answer
    in the group and s / (1 - s) (R - x) - (N - R) for one outside, and its variance is
    the mean square of the influences over the n answers, divided by n.
    """
    rest = rest_of(total, group)
    if group.responses == 0 or rest.responses == 0:
        return None
    n = total.responses
    share = group.responses / n
    whole = (total.promoters - total.detractors) / n
    outside = (rest.promoters - rest.detractors) / rest.responses
    points = whole - outside
    if min(group.responses, rest.responses) < MIN_RESPONSES:
        return Impact(100 * points, None)
    k = share / (1 - share)
    squares = (
        group.promoters * (1 - whole) ** 2
        + group.passives * whole**2
        + group.detractors * (1 + whole) ** 2
        + rest.promoters * (k * (outside - 1) - points) ** 2
        + rest.passives * (k * outside - points) ** 2
        + rest.detractors * (k * (outside + 1) - points) ** 2
    )
    return Impact(100 * points, 100 * math.sqrt(squares / n / n))
