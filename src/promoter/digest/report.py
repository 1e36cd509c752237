"""What a digest tells of an organization's week: the NPS and its change against the week
before, the saved segments that moved most, the new detractor comments, and links into
the dashboard. Read in the caller's connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from sqlalchemy import Connection, func, select

from promoter.alerts.rule import Windows
from promoter.alerts.scopes import Measured, measure, watched
from promoter.analytics.change import NpsChange, TooFewToCompare, nps_change
from promoter.analytics.engine import Analytics
from promoter.analytics.significance import p_value, q_values
from promoter.digest.keywords import KeywordMover, keyword_movers
from promoter.digest.week import Week
from promoter.domain.nps import NpsSummary
from promoter.storage.tables import responses

#: At most this many segments among the movers, and this many detractor comments.
MOVERS = 5
COMMENTS = 10
#: The highest score of a detractor.
DETRACTOR = 6
#: A segment moved beyond chance when its Benjamini-Hochberg q-value, across the
#: segments compared that week, is at most this.
FALSE_DISCOVERY_RATE = 0.05


@dataclass(frozen=True, slots=True)
class Mover:
    """A saved segment's NPS this week against the week before; ``p_value`` of the
    change, ``q_value`` across the segments compared."""

    segment_id: int
    name: str
    now: NpsSummary
    before: NpsSummary
    change: NpsChange
    link: str
    p_value: float
    q_value: float

    @property
    def significant(self) -> bool:
        return self.q_value <= FALSE_DISCOVERY_RATE


@dataclass(frozen=True, slots=True)
class Comment:
    response_id: int
    score: int
    text: str
    link: str


@dataclass(frozen=True, slots=True)
class Digest:
    """``change`` is None when a week had no answers, TooFewToCompare under the guard;
    ``keyword_movers``: the comment keywords whose NPS or share moved most."""

    organization_id: int
    organization: str
    week: Week
    now: NpsSummary
    before: NpsSummary
    change: NpsChange | TooFewToCompare | None
    movers: list[Mover]
    comments: list[Comment]
    links: dict[str, str]
    keyword_movers: list[KeywordMover] = field(default_factory=list)

    @property
    def quiet(self) -> bool:
        """No answers this week nor the week before: nothing to tell."""
        return self.now.responses == 0 and self.before.responses == 0


def overview_link(base_url: str, week: Week, **scope: int) -> str:
    query: dict[str, object] = {
        "range": "custom",
        "since": week.since.date().isoformat(),
        "until": week.last_day.isoformat(),
        **scope,
    }
    return f"{base_url}/?{urlencode(query)}"


def movers(found: list[Measured], base_url: str, week: Week) -> list[Mover]:
    """The segments whose two weeks each have enough answers to compare, the largest
    change first, each tested against chance (corrected together, Benjamini-Hochberg)."""
    compared: list[tuple[int, Measured, NpsChange]] = []
    for m in found:
        change = nps_change(m.latest, m.before)
        if m.scope.kind == "segment" and m.scope.id is not None and isinstance(change, NpsChange):
            compared.append((m.scope.id, m, change))
    ps = [p_value(m.latest, m.before) for _, m, _ in compared]
    ranked = [
        Mover(
            segment_id,
            m.scope.name,
            m.latest,
            m.before,
            change,
            overview_link(base_url, week, segment=segment_id),
            p,
            q,
        )
        for (segment_id, m, change), p, q in zip(compared, ps, q_values(ps), strict=True)
    ]
    ranked.sort(key=lambda mover: (-abs(mover.change.points), mover.segment_id))
    return ranked[:MOVERS]


def detractor_comments(
    conn: Connection, *, organization_id: int, week: Week, base_url: str
) -> list[Comment]:
    """The week's answers of 0 to 6 with a comment, newest first."""
    c = responses.c
    rows = conn.execute(
        select(c.id, c.score, c.comment)
        .where(
            c.organization_id == organization_id,
            c.created_at >= week.since,
            c.created_at < week.until,
            c.score <= DETRACTOR,
            func.length(func.trim(c.comment)) > 0,
        )
        .order_by(c.created_at.desc(), c.id.desc())
        .limit(COMMENTS)
    )
    return [
        Comment(row.id, row.score, row.comment.strip(), f"{base_url}/feedback/{row.id}")
        for row in rows
    ]


def build_digest(
    conn: Connection,
    analytics: Analytics,
    *,
    organization_id: int,
    week: Week,
    base_url: str,
) -> Digest:
    scopes = [
        s
        for s in watched(conn, organization_id=organization_id)
        if s.kind in ("organization", "segment")
    ]
    spans = Windows(week.before.since, week.since, week.until)
    found = measure(
        conn,
        analytics,
        organization_id=organization_id,
        scopes=scopes,
        windows=spans,
        now=week.until,
    )
    whole = found[0]
    return Digest(
        organization_id,
        whole.scope.name,
        week,
        whole.latest,
        whole.before,
        nps_change(whole.latest, whole.before),
        movers(found[1:], base_url, week),
        detractor_comments(conn, organization_id=organization_id, week=week, base_url=base_url),
        {
            "overview": overview_link(base_url, week),
            "feedback": f"{base_url}/feedback",
            "settings": f"{base_url}/alerts",
        },
        keyword_movers(
            conn, analytics, organization_id=organization_id, week=week, base_url=base_url
        ),
    )
