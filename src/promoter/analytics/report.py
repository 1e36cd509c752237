"""The score of the matching responses, their 0-10 distribution, and delivery counts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, func, select

from promoter.analytics.compile import Target, compile_filter
from promoter.analytics.query import Scope, Window, matching
from promoter.analytics.scores import NpsSummary
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
    applies to contacts as they are now; score, comment, status and tag filters concern
    responses and do not apply here.
    """
    query = scope.query
    window = scope.window
    conditions = [surveys.c.organization_id == query.organization_id]
    if query.campaign_ids:
        conditions.append(surveys.c.campaign_id.in_(query.campaign_ids))
    if query.where is not None:
        target = Target(
            response_id=surveys.c.id,
            contact_id=surveys.c.contact_id,
            organization_id=query.organization_id,
            source="current",
            now=scope.now,
            dialect=scope.dialect,
        )
        conditions.append(compile_filter(query.where, target))
    sent_in_window = and_(surveys.c.sent_at >= window.since, surveys.c.sent_at < window.until)
    refused_in_window = and_(
        surveys.c.sent_at.is_(None),
        surveys.c.status == "failed",
        contacts.c.status == "bounced",
        surveys.c.scheduled_at >= window.since,
        surveys.c.scheduled_at < window.until,
    )
    row = conn.execute(
        select(
            func.count().filter(sent_in_window),
            func.count().filter(refused_in_window),
            func.count().filter(and_(sent_in_window, contacts.c.status == "unsubscribed")),
            func.count().filter(and_(sent_in_window, surveys.c.status == "answered")),
        )
        .select_from(surveys.join(contacts, contacts.c.id == surveys.c.contact_id))
        .where(*conditions)
    ).one()
    return DeliveryStats(sent=row[0], bounced=row[1], unsubscribed=row[2], responded=row[3])
