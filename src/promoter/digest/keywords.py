"""The comment keywords that moved most from one week to the next, for the digest: a
keyword's NPS moved (when both weeks have enough comments using it, tested as the segment
movers are) or its share of the comments did (a two-proportion z test); the tests of the
week corrected together (Benjamini-Hochberg), the most beyond chance first."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from promoter.analytics.engine import Analytics
from promoter.analytics.keyword_rules import load_rules
from promoter.analytics.keywords import MAX_TOP, Keyword, keywords
from promoter.analytics.query import NpsQuery, scope
from promoter.analytics.significance import FDR, p_value, q_values
from promoter.digest.week import Week
from promoter.domain.nps import NpsSummary

#: At most this many keywords among the movers.
MOVERS = 5
#: A keyword's share of the comments is tested from this many comments (both weeks).
MIN_MENTIONS = 10

#: The digest's weeks are UTC weeks.
UTC_ZONE = ZoneInfo("UTC")

Moved = Literal["nps", "share"]


@dataclass(frozen=True, slots=True)
class KeywordMover:
    """A keyword this week against the week before: ``moved`` says what is tested, its NPS
    or its share of the comments; ``points``: that difference (NPS points, or percentage
    points of the comments)."""

    name: str
    moved: Moved
    now: NpsSummary
    before: NpsSummary
    share_now: float
    share_before: float
    points: float
    p_value: float
    q_value: float
    link: str

    @property
    def significant(self) -> bool:
        return self.q_value <= FDR


def share_p_value(mentions: int, comments: int, mentions_before: int, before: int) -> float:
    """The two-sided p-value of two shares of independent samples, pooled:
    z = (p1 - p0) / sqrt(p (1 - p) (1/n1 + 1/n0))."""
    pooled = (mentions + mentions_before) / (comments + before)
    error = math.sqrt(pooled * (1 - pooled) * (1 / comments + 1 / before))
    difference = mentions / comments - mentions_before / before
    if error == 0:
        return 1.0 if difference == 0 else 0.0
    return math.erfc(abs(difference) / error / math.sqrt(2))


def _tests(
    found: list[Keyword], comments: int, before: int
) -> list[tuple[Keyword, Moved, float, float]]:
    """Each keyword's tests: (keyword, what moved, difference, p-value)."""
    tests: list[tuple[Keyword, Moved, float, float]] = []
    for k in found:
        change = k.compared
        if change is not None:
            tests.append((k, "nps", change.points, p_value(k.summary, k.before)))
        mentions, earlier = k.summary.responses, k.before.responses
        if comments and before and mentions + earlier >= MIN_MENTIONS:
            difference = 100 * (mentions / comments - earlier / before)
            tests.append(
                (k, "share", difference, share_p_value(mentions, comments, earlier, before))
            )
    return tests


def keyword_movers(
    conn: Connection, analytics: Analytics, *, organization_id: int, week: Week, base_url: str
) -> list[KeywordMover]:
    """The week's keywords (the organization's rules applied) whose NPS or share moved,
    the smallest q-value first, at most MOVERS, each keyword once."""
    question = NpsQuery(organization_id=organization_id, since=week.since, until=week.until)
    settled = scope(conn, question, now=week.until)
    rules = load_rules(conn, organization_id=organization_id)
    found = keywords(
        conn,
        settled,
        rules=rules,
        cache=analytics.phrases,
        zone=UTC_ZONE,
        top=MAX_TOP,
        vanished=True,
    )
    comments, before = found.comments, found.comments_before
    tests = _tests(found.keywords, comments, before)
    qs = q_values([p for *_, p in tests])
    link = f"{base_url}/keywords?" + urlencode(
        {
            "range": "custom",
            "since": week.since.date().isoformat(),
            "until": week.last_day.isoformat(),
        }
    )
    movers = [
        KeywordMover(
            k.name,
            moved,
            k.summary,
            k.before,
            100 * k.summary.responses / comments if comments else 0.0,
            100 * k.before.responses / before if before else 0.0,
            points,
            p,
            q,
            link,
        )
        for (k, moved, points, p), q in zip(tests, qs, strict=True)
    ]
    movers.sort(key=lambda m: (m.q_value, -abs(m.points), m.name))
    chosen: list[KeywordMover] = []
    for mover in movers:
        if all(m.name != mover.name for m in chosen):
            chosen.append(mover)
    return chosen[:MOVERS]
