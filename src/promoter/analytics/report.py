"""The score of the matching responses, their 0-10 distribution, and delivery counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, exists, func, null, or_, select

from promoter.analytics.compile import Target, compile_filter
from promoter.analytics.filters import Expr, mentions_channel
from promoter.analytics.query import Scope, Window, matching
from promoter.domain.nps import NpsSummary
from promoter.storage.tables import campaign_day_counts, contacts, responses, surveys

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class NpsReport:
    window: Window
    summary: NpsSummary
    #: Responses per score, index 0 to 10.
    distribution: list[int]

    def to_json(self) -> dict[str, object]:
        return {
            "window": self.window.to_json(),
            **self.summary.to_json(),
            "distribution": {str(score): n for score, n in enumerate(self.distribution)},
        }


def nps(conn: Connection, scope: Scope) -> NpsReport:
    found = matching(scope)
    distribution = [0] * 11
    for score, count in conn.execute(
        select(found.c.score, func.count()).group_by(found.c.score)
    ).all():
        distribution[score] = count
    return NpsReport(scope.window, NpsSummary.from_distribution(distribution), distribution)


@dataclass(frozen=True, slots=True)
class DeliveryStats:
    """Surveys sent in the window, and what became of them."""

    sent: int
    bounced: int
    unsubscribed: int
    responded: int

    @property
    def delivered(self) -> int:
        return self.sent

    @property
    def response_rate(self) -> float | None:
        return None if self.delivered == 0 else 100.0 * self.responded / self.delivered

    def to_json(self) -> dict[str, object]:
        return {
            "sent": self.sent,
            "delivered": self.delivered,
            "bounced": self.bounced,
            "unsubscribed": self.unsubscribed,
            "responded": self.responded,
            "response_rate": self.response_rate,
        }


def _response_matches(scope: Scope, where: Expr) -> ColumnElement[bool]:
    """The survey's response matches ``where`` on the NPS's own terms."""
    target = Target(
        response_id=responses.c.id,
        contact_id=responses.c.contact_id,
        organization_id=scope.query.organization_id,
        source=scope.query.attributes,
        now=scope.now,
        dialect=scope.dialect,
        channel=responses.c.channel,
    )
    return exists().where(responses.c.survey_id == surveys.c.id, compile_filter(where, target))


def _contact_matches(scope: Scope, where: Expr) -> ColumnElement[bool]:
    """The survey's contact, as it is now, matches ``where`` (no answers to match).

    A filter about contacts alone is decided once per contact, not once per survey; one
    that mentions the channel, per survey (on the survey's channel)."""
    organization_id = scope.query.organization_id
    per_survey = mentions_channel(where)
    target = Target(
        response_id=null(),
        contact_id=surveys.c.contact_id if per_survey else contacts.c.id,
        organization_id=organization_id,
        source="current",
        now=scope.now,
        dialect=scope.dialect,
        channel=surveys.c.channel if per_survey else None,
    )
    if per_survey:
        return compile_filter(where, target)
    matching = select(contacts.c.id).where(
        contacts.c.organization_id == organization_id, compile_filter(where, target)
    )
    return surveys.c.contact_id.in_(matching)


#: Given how many of the surveys sent in the window were answered, how many of those have
#: a response that matches the filter; None when it cannot tell (then SQL decides them).
AnsweredMatching = Callable[[int], int | None]


def delivery_stats(
    conn: Connection, scope: Scope, *, answered_matching: AnsweredMatching | None = None
) -> DeliveryStats:
    """Surveys of the window's campaigns sent (or refused) in the window.

    The attribute, behaviour and answer filter decides an answered survey on its response,
    as the NPS does (attributes as they were when it was answered, unless the question
    asks for them as they are now). A survey not answered has no snapshot: it is decided
    on its contact as it is now (a channel condition, on the survey's channel). Score,
    comment, status and tag filters concern responses and do not apply here.

    With ``answered_matching`` (the analytics columns, ``column_delivery``), the answered
    surveys sent in the window are decided by it, and only the others by SQL.
    """
    query = scope.query
    window = scope.window
    base = [surveys.c.organization_id == query.organization_id]
    if query.campaign_ids:
        base.append(surveys.c.campaign_id.in_(query.campaign_ids))
    matches: list[ColumnElement[bool]] = []
    if query.where is not None:
        answered = surveys.c.status == "answered"
        matches.append(
            or_(
                and_(answered, _response_matches(scope, query.where)),
                and_(~answered, _contact_matches(scope, query.where)),
            )
        )
    conditions = [*base, *matches]
    in_window = [surveys.c.sent_at >= window.since, surveys.c.sent_at < window.until]
    # Each statement is bounded by the window through an index: surveys sent in it
    # (without a filter, the whole UTC days of the window from the counts the database
    # keeps, and the hours at its ends from ix_surveys_org_sent_covering alone), the few
    # of them whose contact unsubscribed since, and surveys refused before sending.
    found = None
    if query.where is None:
        found = _sent_and_answered(conn, scope)
    elif answered_matching is not None:
        found = _by_answered_matching(conn, scope, base, answered_matching)
    sent, responded = found or _counted(conn, conditions, window.since, window.until)
    unsubscribed = _unsubscribed(conn, query.organization_id, [*conditions, *in_window])
    bounced = _bounced(conn, scope, base, matches)
    return DeliveryStats(sent=sent, bounced=bounced, unsubscribed=unsubscribed, responded=responded)


def _bounced(
    conn: Connection,
    scope: Scope,
    base: list[ColumnElement[bool]],
    matches: list[ColumnElement[bool]],
) -> int:
    """Surveys scheduled in the window and refused before sending (their contact bounced)
    that meet ``matches``. Counted without them first: there are rarely any, and a planner
    may decide a filter over every contact before it finds none (PostgreSQL does)."""
    window = scope.window
    refused = [
        *base,
        surveys.c.sent_at.is_(None),
        surveys.c.status == "failed",
        contacts.c.status == "bounced",
        surveys.c.scheduled_at >= window.since,
        surveys.c.scheduled_at < window.until,
    ]

    def count(extra: list[ColumnElement[bool]]) -> int:
        joined = surveys.join(contacts, contacts.c.id == surveys.c.contact_id)
        return int(
            conn.execute(
                select(func.count()).select_from(joined).where(*refused, *extra)
            ).scalar_one()
        )

    found = count([])
    return count(matches) if found and matches else found


def _by_answered_matching(
    conn: Connection,
    scope: Scope,
    base: list[ColumnElement[bool]],
    answered_matching: AnsweredMatching,
) -> tuple[int, int] | None:
    """Surveys sent in the window that meet the filter, and those answered: the answered
    ones as ``answered_matching`` tells, the others (if any were sent) decided on their
    contacts in SQL. None when ``answered_matching`` cannot tell."""
    assert scope.query.where is not None
    sent, answered = _sent_and_answered(conn, scope)
    responded = answered_matching(answered)
    if responded is None:
        return None
    if sent == answered:
        return responded, responded
    others = [
        *base,
        surveys.c.status != "answered",
        _contact_matches(scope, scope.query.where),
    ]
    not_answered, _ = _counted(conn, others, scope.window.since, scope.window.until)
    return responded + not_answered, responded


#: Up to this many unsubscribed contacts, their surveys are found by contact (each a seek
#: on ix_surveys_org_contact_created), not by reading the window's surveys.
FEW_UNSUBSCRIBED = 1000


def _unsubscribed(
    conn: Connection, organization_id: int, conditions: list[ColumnElement[bool]]
) -> int:
    """Surveys meeting ``conditions`` whose contact has unsubscribed."""
    unsubscribed_contacts = select(contacts.c.id).where(
        contacts.c.organization_id == organization_id,
        contacts.c.status == "unsubscribed",
    )
    few = conn.execute(unsubscribed_contacts.limit(FEW_UNSUBSCRIBED + 1)).scalars().all()
    if not few:
        return 0
    chosen: Any = unsubscribed_contacts if len(few) > FEW_UNSUBSCRIBED else list(few)
    count = select(func.count()).where(*conditions, surveys.c.contact_id.in_(chosen))
    return int(conn.execute(count).scalar_one())


def _counted(
    conn: Connection, conditions: list[ColumnElement[bool]], since: datetime, until: datetime
) -> tuple[int, int]:
    """Surveys sent in [since, until) that meet ``conditions``, and those answered."""
    sent, answered = conn.execute(
        select(func.count(), func.count().filter(surveys.c.status == "answered")).where(
            *conditions, surveys.c.sent_at >= since, surveys.c.sent_at < until
        )
    ).one()
    return int(sent), int(answered)


def _sent_and_answered(conn: Connection, scope: Scope) -> tuple[int, int]:
    """Surveys of the scope's campaigns sent in its window, and those answered: the window's
    whole UTC days summed from ``campaign_day_counts``, the rest counted."""
    query = scope.query
    since, until = scope.window.since, scope.window.until
    conditions: list[ColumnElement[bool]] = [surveys.c.organization_id == query.organization_id]
    if query.campaign_ids:
        conditions.append(surveys.c.campaign_id.in_(query.campaign_ids))
    first = _midnight(since) if since == _midnight(since) else _midnight(since) + ONE_DAY
    last = _midnight(until)
    if first >= last:
        return _counted(conn, conditions, since, until)
    c = campaign_day_counts.c
    days = [
        c.organization_id == query.organization_id,
        c.day >= first.date(),
        c.day < last.date(),
    ]
    if query.campaign_ids:
        days.append(c.campaign_id.in_(query.campaign_ids))
    sent, answered = conn.execute(select(func.sum(c.sent), func.sum(c.answered)).where(*days)).one()
    before = _counted(conn, conditions, since, first)
    after = _counted(conn, conditions, last, until)
    return (
        int(sent or 0) + before[0] + after[0],
        int(answered or 0) + before[1] + after[1],
    )


def _midnight(moment: datetime) -> datetime:
    """The start of ``moment``'s UTC day."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
