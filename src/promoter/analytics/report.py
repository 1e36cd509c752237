"""The score of the matching responses, their 0-10 distribution, and delivery counts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, and_, exists, func, null, or_, select

from promoter.analytics.compile import Target, compile_filter
from promoter.analytics.filters import Expr, mentions_channel
from promoter.analytics.query import Scope, Window, matching
from promoter.domain.nps import NpsSummary
from promoter.storage.tables import contacts, responses, surveys


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


def delivery_stats(conn: Connection, scope: Scope) -> DeliveryStats:
    """Surveys of the window's campaigns sent (or refused) in the window.

    The attribute, behaviour and answer filter decides an answered survey on its response,
    as the NPS does (attributes as they were when it was answered, unless the question
    asks for them as they are now). A survey not answered has no snapshot: it is decided
    on its contact as it is now (a channel condition, on the survey's channel). Score,
    comment, status and tag filters concern responses and do not apply here.
    """
    query = scope.query
    window = scope.window
    conditions = [surveys.c.organization_id == query.organization_id]
    if query.campaign_ids:
        conditions.append(surveys.c.campaign_id.in_(query.campaign_ids))
    if query.where is not None:
        answered = surveys.c.status == "answered"
        conditions.append(
            or_(
                and_(answered, _response_matches(scope, query.where)),
                and_(~answered, _contact_matches(scope, query.where)),
            )
        )
    in_window = [surveys.c.sent_at >= window.since, surveys.c.sent_at < window.until]
    # Each statement is bounded by the window through an index: surveys sent in it
    # (read from ix_surveys_org_sent_covering alone), the few of them whose contact
    # unsubscribed since, and surveys refused before sending (sent_at IS NULL).
    sent, responded = conn.execute(
        select(func.count(), func.count().filter(surveys.c.status == "answered")).where(
            *conditions, *in_window
        )
    ).one()
    unsubscribed_contacts = select(contacts.c.id).where(
        contacts.c.organization_id == query.organization_id,
        contacts.c.status == "unsubscribed",
    )
    unsubscribed = conn.execute(
        select(func.count()).where(
            *conditions, *in_window, surveys.c.contact_id.in_(unsubscribed_contacts)
        )
    ).scalar_one()
    bounced = conn.execute(
        select(func.count())
        .select_from(surveys.join(contacts, contacts.c.id == surveys.c.contact_id))
        .where(
            *conditions,
            surveys.c.sent_at.is_(None),
            surveys.c.status == "failed",
            contacts.c.status == "bounced",
            surveys.c.scheduled_at >= window.since,
            surveys.c.scheduled_at < window.until,
        )
    ).scalar_one()
    return DeliveryStats(sent=sent, bounced=bounced, unsubscribed=unsubscribed, responded=responded)
