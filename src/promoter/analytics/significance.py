"""Which groups of a breakdown differ from the rest beyond chance: each group's NPS
against that of all other responses (a two-sided z test), with the false discovery rate
across the groups held at 5% by the Benjamini-Hochberg procedure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from promoter.analytics.change import MIN_RESPONSES, difference_error
from promoter.domain.nps import NpsSummary

#: The false discovery rate: of the groups flagged, at most this share differ by chance
#: (on average).
FDR = 0.05

Direction = Literal["higher", "lower"]


@dataclass(frozen=True, slots=True)
class Difference:
    """A tested group: its p-value, its Benjamini-Hochberg q-value, and ``differs``, the
    side of the rest its NPS is on when q <= FDR (None: not beyond chance)."""

    p_value: float
    q_value: float
    differs: Direction | None


def rest_of(total: NpsSummary, group: NpsSummary) -> NpsSummary:
    """The responses of ``total`` outside ``group``."""
    return NpsSummary.of(
        total.responses - group.responses,
        total.promoters - group.promoters,
        total.detractors - group.detractors,
    )


def p_value(group: NpsSummary, rest: NpsSummary) -> float:
    """The two-sided p-value of the difference of two NPS of independent samples:
    z = (nps_group - nps_rest) / sqrt(var_group + var_rest), p = erfc(|z| / sqrt 2)."""
    assert group.nps is not None and rest.nps is not None
    difference = (group.nps - rest.nps) / 100
    error = difference_error(group, rest)
    if error == 0:  # both unanimous: certain of whatever difference there is
        return 1.0 if difference == 0 else 0.0
    return math.erfc(abs(difference) / error / math.sqrt(2))


def q_values(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values, in the order given: the i-th smallest p of m
    becomes min over j >= i of p_(j) * m / j, at most 1."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    smallest = 1.0
    for rank in range(m, 0, -1):
        index = order[rank - 1]
        smallest = min(smallest, p_values[index] * m / rank)
        adjusted[index] = smallest
    return adjusted


def differences(
    groups: Sequence[NpsSummary], total: NpsSummary, *, rate: float = FDR
) -> list[Difference | None]:
    """For each group (together making up ``total``), how it differs from the rest; None
    for a group not tested: fewer than MIN_RESPONSES answers in it or in the rest."""
    tested = [
        i
        for i, group in enumerate(groups)
        if min(group.responses, total.responses - group.responses) >= MIN_RESPONSES
    ]
    rests = {i: rest_of(total, groups[i]) for i in tested}
    ps = [p_value(groups[i], rests[i]) for i in tested]
    found: list[Difference | None] = [None] * len(groups)
    for i, p, q in zip(tested, ps, q_values(ps), strict=True):
        higher = (groups[i].nps or 0.0) > (rests[i].nps or 0.0)
        direction: Direction | None = ("higher" if higher else "lower") if q <= rate else None
        found[i] = Difference(p, q, direction)
    return found
