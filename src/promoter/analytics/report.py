"""The score of the matching responses, their 0-10 distribution, and delivery counts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from promoter.analytics.compile import Target, compile_filter
from promoter.analytics.filters import mentions_channel
from promoter.analytics.query import Scope, Window, matching
from promoter.domain.nps import NpsSummary
from promoter.storage.tables import contacts, surveys


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


def delivery_stats(conn: Connection, scope: Scope) -> DeliveryStats:
    """Surveys of the window's campaigns sent (or refused) in the window.

    A survey has no snapshot until it is answered, so the attribute and behaviour filter
    applies to contacts as they are now (a channel condition, to the survey's channel);
    score, comment, status and tag filters concern responses and do not apply here.
    """
    query = scope.query
    window = scope.window
    conditions = [surveys.c.organization_id == query.organization_id]
    if query.campaign_ids:
        conditions.append(surveys.c.campaign_id.in_(query.campaign_ids))
    if query.where is not None and mentions_channel(query.where):
        # The filter is about contacts and the survey's channel: decide it per survey.
        survey_target = Target(
            response_id=surveys.c.contact_id,
            contact_id=surveys.c.contact_id,
            organization_id=query.organization_id,
            source="current",
            now=scope.now,
            dialect=scope.dialect,
            channel=surveys.c.channel,
        )
        conditions.append(compile_filter(query.where, survey_target))
    elif query.where is not None:
        # The filter is about contacts: decide it once per contact, not once per survey.
        target = Target(
            response_id=contacts.c.id,
            contact_id=contacts.c.id,
            organization_id=query.organization_id,
            source="current",
            now=scope.now,
            dialect=scope.dialect,
        )
        matching = select(contacts.c.id).where(
            contacts.c.organization_id == query.organization_id,
            compile_filter(query.where, target),
        )
        conditions.append(surveys.c.contact_id.in_(matching))
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
