"""Who may no longer be surveyed, and why: unsubscribed contacts, and bounced contacts with
the delivery the mail server refused. Unsubscribing goes through
:func:`promoter.contacts.service.change_status`. The caller owns the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, func, select

from promoter.contacts.service import change_status, contact_ids_by_email
from promoter.delivery.outbox import FORWARD
from promoter.domain.emails import email_key
from promoter.domain.paging import Page
from promoter.storage.tables import campaigns, contacts, deliveries, surveys


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    contact_id: int
    email: str
    user_id: str | None
    #: The contact's last change: unsubscribing is the last change a contact's status sees.
    date: datetime


@dataclass(frozen=True, slots=True)
class Bounced:
    contact_id: int
    email: str
    user_id: str | None
    #: The refused delivery (None when the contact was marked bounced without one).
    survey_id: int | None
    campaign_id: int | None
    campaign_name: str | None
    kind: str | None
    error: str | None
    date: datetime


def _with_status(organization_id: int, status: str, email: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        contacts.c.organization_id == organization_id,
        contacts.c.status == status,
    ]
    if email is not None:
        conditions.append(contacts.c.email_key == email_key(email))
    return conditions


def list_unsubscribed(
    conn: Connection, *, organization_id: int, page: Page, email: str | None = None
) -> tuple[int, list[Unsubscribed]]:
    """Unsubscribed contacts, the latest first."""
    where = _with_status(organization_id, "unsubscribed", email)
    total = conn.execute(select(func.count()).select_from(contacts).where(*where)).scalar()
    rows = conn.execute(
        select(contacts.c.id, contacts.c.email, contacts.c.user_id, contacts.c.updated_at)
        .where(*where)
        .order_by(contacts.c.updated_at.desc(), contacts.c.id.desc())
        .limit(page.size)
        .offset(page.offset)
    )
    return int(total or 0), [Unsubscribed(r.id, r.email, r.user_id, r.updated_at) for r in rows]


def list_bounced(
    conn: Connection, *, organization_id: int, page: Page, email: str | None = None
) -> tuple[int, list[Bounced]]:
    """Bounced contacts, each with its latest failed delivery to the contact (survey,
    reminder or reply: the one the mail server refused), the latest first."""
    where = _with_status(organization_id, "bounced", email)
    total = conn.execute(select(func.count()).select_from(contacts).where(*where)).scalar()
    refused = (
        select(func.max(deliveries.c.id))
        .select_from(deliveries.join(surveys, surveys.c.id == deliveries.c.survey_id))
        .where(
            surveys.c.organization_id == organization_id,
            surveys.c.contact_id == contacts.c.id,
            deliveries.c.status == "failed",
            deliveries.c.kind != FORWARD,
        )
        .correlate(contacts)
        .scalar_subquery()
    )
    date = func.coalesce(deliveries.c.due_at, contacts.c.updated_at)
    rows = conn.execute(
        select(
            contacts.c.id,
            contacts.c.email,
            contacts.c.user_id,
            contacts.c.updated_at,
            deliveries.c.survey_id,
            deliveries.c.kind,
            deliveries.c.last_error,
            deliveries.c.due_at,
            surveys.c.campaign_id,
            campaigns.c.name.label("campaign_name"),
        )
        .select_from(
            contacts.outerjoin(deliveries, deliveries.c.id == refused)
            .outerjoin(surveys, surveys.c.id == deliveries.c.survey_id)
            .outerjoin(campaigns, campaigns.c.id == surveys.c.campaign_id)
        )
        .where(*where)
        .order_by(date.desc(), contacts.c.id.desc())
        .limit(page.size)
        .offset(page.offset)
    )
    return int(total or 0), [
        Bounced(
            contact_id=r.id,
            email=r.email,
            user_id=r.user_id,
            survey_id=r.survey_id,
            campaign_id=r.campaign_id,
            campaign_name=r.campaign_name,
            kind=r.kind,
            error=r.last_error,
            date=r.due_at or r.updated_at,
        )
        for r in rows
    ]


def unsubscribe_email(
    conn: Connection, *, organization_id: int, email: str, now: datetime
) -> tuple[list[int], list[int]]:
    """Unsubscribe every contact of the organization with this address (ignoring case):
    the ids of all of them, and of those that were not unsubscribed already."""
    ids = contact_ids_by_email(conn, organization_id=organization_id, email=email)
    changed = [
        contact_id
        for contact_id in ids
        if change_status(
            conn,
            organization_id=organization_id,
            contact_id=contact_id,
            status="unsubscribed",
            now=now,
        )
    ]
    return ids, changed
