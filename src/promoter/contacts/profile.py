"""Everything the dashboard shows about one contact: identity, attributes with their types,
lists, surveys and their deliveries, responses, and the newest events and orders.

Every function takes the caller's connection and an organization id; none of them commits.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, func, select

from promoter.contacts.service import listed
from promoter.domain.nps import score_type
from promoter.storage.tables import (
    campaigns,
    contact_attributes,
    contact_lists,
    contacts,
    deliveries,
    events,
    list_memberships,
    orders,
    response_tags,
    responses,
    surveys,
)

T = TypeVar("T")

#: How many events and orders a profile shows.
RECENT = 20
#: How many surveys and responses a profile shows.
HISTORY = 100


@dataclass(frozen=True, slots=True)
class Recent(Generic[T]):
    """The newest items of a kind, and how many there are in all."""

    items: list[T]
    total: int

    @property
    def more(self) -> int:
        """How many are not shown."""
        return max(0, self.total - len(self.items))


@dataclass(frozen=True, slots=True)
class Identity:
    id: int
    user_id: str | None
    email: str
    first_name: str | None
    last_name: str | None
    timezone: str | None
    status: str
    created_at: datetime
    updated_at: datetime

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    #: string, number, boolean, date or list
    type: str
    #: The value's text form: ``42``, ``true``, the date as sent, a list as JSON.
    text: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Membership:
    list_id: int
    name: str
    is_segment: bool
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    #: survey, reminder or forward
    kind: str
    #: pending, sent, failed or cancelled
    status: str
    attempts: int
    due_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class SentSurvey:
    id: int
    campaign_id: int
    campaign_name: str
    #: scheduled, sent, answered, cancelled or failed
    status: str
    scheduled_at: datetime
    sent_at: datetime | None
    answered_at: datetime | None
    reminder_due_at: datetime | None
    reminder_sent_at: datetime | None
    created_at: datetime
    deliveries: list[Delivery]


@dataclass(frozen=True, slots=True)
class Answer:
    id: int
    campaign_id: int
    campaign_name: str
    score: int
    comment: str | None
    #: OPEN or CLOSED
    status: str
    tags: list[str]
    created_at: datetime
    updated_at: datetime

    @property
    def kind(self) -> str:
        """promoter (9-10), passive (7-8) or detractor (0-6)."""
        return score_type(self.score)


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    name: str
    properties: Any
    timestamp: datetime
    received_at: datetime
    #: What the survey trigger made of the event.
    survey_note: str | None


@dataclass(frozen=True, slots=True)
class Order:
    id: int
    order_id: str | None
    total: float | None
    revenue: float | None
    currency: str | None
    coupon: str | None
    products: int
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class Profile:
    contact: Identity
    attributes: list[Attribute]
    lists: list[Membership]
    surveys: Recent[SentSurvey]
    responses: Recent[Answer]
    events: Recent[Event]
    orders: Recent[Order]


@dataclass(frozen=True, slots=True)
class ListChoice:
    id: int
    name: str


def organization_lists(conn: Connection, *, organization_id: int) -> list[ListChoice]:
    """The organization's contact lists, by name (to search contacts by list)."""
    rows = conn.execute(
        select(contact_lists.c.id, contact_lists.c.name)
        .where(contact_lists.c.organization_id == organization_id)
        .order_by(contact_lists.c.name, contact_lists.c.id)
    )
    return [ListChoice(r.id, r.name) for r in rows]


def load_profile(
    conn: Connection, *, organization_id: int, contact_id: int, recent: int = RECENT
) -> Profile | None:
    """The contact's profile, or None when the organization has no such contact."""
    identity = _identity(conn, organization_id, contact_id)
    if identity is None:
        return None
    return Profile(
        contact=identity,
        attributes=_attributes(conn, organization_id, contact_id),
        lists=_lists(conn, organization_id, contact_id),
        surveys=_surveys(conn, organization_id, contact_id, HISTORY),
        responses=_responses(conn, organization_id, contact_id, HISTORY),
        events=_events(conn, organization_id, contact_id, recent),
        orders=_orders(conn, organization_id, contact_id, recent),
    )


def _identity(conn: Connection, organization_id: int, contact_id: int) -> Identity | None:
    row = conn.execute(
        select(contacts).where(
            contacts.c.organization_id == organization_id, contacts.c.id == contact_id, listed()
        )
    ).one_or_none()
    if row is None:
        return None
    return Identity(
        id=row.id,
        user_id=row.user_id,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        timezone=row.timezone,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _attributes(conn: Connection, organization_id: int, contact_id: int) -> list[Attribute]:
    a = contact_attributes.c
    rows = conn.execute(
        select(a.name, a.value_type, a.value_text, a.updated_at)
        .where(a.organization_id == organization_id, a.contact_id == contact_id)
        .order_by(a.name)
    )
    return [Attribute(r.name, r.value_type, r.value_text or "", r.updated_at) for r in rows]


def _lists(conn: Connection, organization_id: int, contact_id: int) -> list[Membership]:
    rows = conn.execute(
        select(
            contact_lists.c.id,
            contact_lists.c.name,
            contact_lists.c.is_segment,
            list_memberships.c.created_at,
        )
        .join(contact_lists, contact_lists.c.id == list_memberships.c.list_id)
        .where(
            list_memberships.c.contact_id == contact_id,
            contact_lists.c.organization_id == organization_id,
        )
        .order_by(contact_lists.c.name, contact_lists.c.id)
    )
    return [Membership(r.id, r.name, bool(r.is_segment), r.created_at) for r in rows]


def _count(conn: Connection, table: Any, organization_id: int, contact_id: int) -> int:
    total = conn.execute(
        select(func.count())
        .select_from(table)
        .where(table.c.organization_id == organization_id, table.c.contact_id == contact_id)
    ).scalar_one()
    return int(total)


def _surveys(
    conn: Connection, organization_id: int, contact_id: int, limit: int
) -> Recent[SentSurvey]:
    s = surveys.c
    rows = conn.execute(
        select(
            s.id,
            s.campaign_id,
            campaigns.c.name.label("campaign_name"),
            s.status,
            s.scheduled_at,
            s.sent_at,
            s.answered_at,
            s.reminder_due_at,
            s.reminder_sent_at,
            s.created_at,
        )
        .join(campaigns, campaigns.c.id == s.campaign_id)
        .where(s.organization_id == organization_id, s.contact_id == contact_id)
        .order_by(s.created_at.desc(), s.id.desc())
        .limit(limit)
    ).all()
    sent: dict[int, list[Delivery]] = defaultdict(list)
    if rows:
        d = deliveries.c
        for r in conn.execute(
            select(d.survey_id, d.kind, d.status, d.attempts, d.due_at, d.sent_at)
            .where(d.organization_id == organization_id, d.survey_id.in_([r.id for r in rows]))
            .order_by(d.due_at, d.id)
        ):
            sent[r.survey_id].append(Delivery(r.kind, r.status, r.attempts, r.due_at, r.sent_at))
    items = [
        SentSurvey(
            id=r.id,
            campaign_id=r.campaign_id,
            campaign_name=r.campaign_name,
            status=r.status,
            scheduled_at=r.scheduled_at,
            sent_at=r.sent_at,
            answered_at=r.answered_at,
            reminder_due_at=r.reminder_due_at,
            reminder_sent_at=r.reminder_sent_at,
            created_at=r.created_at,
            deliveries=sent[r.id],
        )
        for r in rows
    ]
    return Recent(items, _count(conn, surveys, organization_id, contact_id))


def _responses(
    conn: Connection, organization_id: int, contact_id: int, limit: int
) -> Recent[Answer]:
    r_ = responses.c
    rows = conn.execute(
        select(
            r_.id,
            r_.campaign_id,
            campaigns.c.name.label("campaign_name"),
            r_.score,
            r_.comment,
            r_.status,
            r_.created_at,
            r_.updated_at,
        )
        .outerjoin(campaigns, campaigns.c.id == r_.campaign_id)
        .where(r_.organization_id == organization_id, r_.contact_id == contact_id)
        .order_by(r_.created_at.desc(), r_.id.desc())
        .limit(limit)
    ).all()
    tags: dict[int, list[str]] = defaultdict(list)
    if rows:
        for t in conn.execute(
            select(response_tags.c.response_id, response_tags.c.tag)
            .where(
                response_tags.c.organization_id == organization_id,
                response_tags.c.response_id.in_([r.id for r in rows]),
            )
            .order_by(response_tags.c.tag)
        ):
            tags[t.response_id].append(t.tag)
    items = [
        Answer(
            id=r.id,
            campaign_id=r.campaign_id,
            campaign_name=r.campaign_name or f"Campaign {r.campaign_id}",
            score=r.score,
            comment=r.comment,
            status=r.status,
            tags=tags[r.id],
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in rows
    ]
    return Recent(items, _count(conn, responses, organization_id, contact_id))


def _events(conn: Connection, organization_id: int, contact_id: int, limit: int) -> Recent[Event]:
    e = events.c
    rows = conn.execute(
        select(e.id, e.name, e.properties, e.timestamp, e.received_at, e.trigger_note)
        .where(e.organization_id == organization_id, e.contact_id == contact_id)
        .order_by(e.timestamp.desc(), e.id.desc())
        .limit(limit)
    )
    items = [
        Event(r.id, r.name, r.properties, r.timestamp, r.received_at, r.trigger_note) for r in rows
    ]
    return Recent(items, _count(conn, events, organization_id, contact_id))


def _orders(conn: Connection, organization_id: int, contact_id: int, limit: int) -> Recent[Order]:
    o = orders.c
    rows = conn.execute(
        select(
            o.id,
            o.order_id,
            o.total,
            o.revenue,
            o.currency,
            o.coupon,
            o.products,
            o.timestamp,
        )
        .where(o.organization_id == organization_id, o.contact_id == contact_id)
        .order_by(o.timestamp.desc(), o.id.desc())
        .limit(limit)
    )
    items = [
        Order(
            id=r.id,
            order_id=r.order_id,
            total=r.total,
            revenue=r.revenue,
            currency=r.currency,
            coupon=r.coupon,
            products=len(r.products) if isinstance(r.products, list) else 0,
            timestamp=r.timestamp,
        )
        for r in rows
    ]
    return Recent(items, _count(conn, orders, organization_id, contact_id))
