"""Queries behind the contacts read API and pages, and changing a contact's status by hand.

Every query is scoped to one organization; the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, func, or_, select, update

from promoter.contacts.events import emit_contact_unsubscribed
from promoter.delivery.outbox import cancel_pending
from promoter.domain.attributes import AttributeValue
from promoter.domain.eligibility import ANONYMOUS, SUPPRESSED
from promoter.domain.emails import email_key
from promoter.domain.orders import ORDER_FIELDS
from promoter.domain.paging import Page
from promoter.storage.tables import (
    contact_attributes,
    contact_lists,
    contacts,
    events,
    list_memberships,
    orders,
)


@dataclass(frozen=True, slots=True)
class ContactFilter:
    email: str | None = None
    user_id: str | None = None
    list_id: int | None = None
    status: str | None = None
    #: attribute name -> value, compared with the value's text form (``42``, ``true``...).
    attributes: tuple[tuple[str, str], ...] = ()
    #: Text found in the email address, the userId, the first name, the last name or
    #: "first last", ignoring case.
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    id: int
    user_id: str | None
    email: str
    first_name: str | None
    last_name: str | None
    timezone: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    attributes: dict[str, Any]
    lists: list[dict[str, Any]]


def contact_ids_by_email(conn: Connection, *, organization_id: int, email: str) -> list[int]:
    """The organization's contacts with this address, oldest first (Segment may have made
    several: one per userId)."""
    return list(
        conn.execute(
            select(contacts.c.id)
            .where(
                contacts.c.organization_id == organization_id,
                contacts.c.email_key == email_key(email),
                listed(),
            )
            .order_by(contacts.c.id)
        ).scalars()
    )


def listed() -> ColumnElement[bool]:
    """The contacts people see: every one but the anonymous contacts of link answers."""
    return contacts.c.status != ANONYMOUS


def _filtered(organization_id: int, flt: ContactFilter) -> Select[Any]:
    query = select(contacts.c.id).where(contacts.c.organization_id == organization_id, listed())
    if flt.email is not None:
        query = query.where(
            contacts.c.organization_id == organization_id,
            contacts.c.email_key == email_key(flt.email),
        )
    if flt.user_id is not None:
        query = query.where(contacts.c.user_id == flt.user_id)
    if flt.status is not None:
        query = query.where(contacts.c.status == flt.status)
    if flt.list_id is not None:
        member = select(list_memberships.c.contact_id).where(
            list_memberships.c.list_id == flt.list_id
        )
        query = query.where(contacts.c.id.in_(member))
    if flt.text is not None and flt.text.strip():
        needle = flt.text.strip()
        lowered = needle.lower()
        full_name = (
            func.coalesce(contacts.c.first_name, "") + " " + func.coalesce(contacts.c.last_name, "")
        )
        query = query.where(
            or_(
                contacts.c.email_key.contains(email_key(needle), autoescape=True),
                *(
                    func.lower(text).contains(lowered, autoescape=True)
                    for text in (contacts.c.user_id, contacts.c.first_name, contacts.c.last_name)
                ),
                func.lower(full_name).contains(lowered, autoescape=True),
            )
        )
    for name, value in flt.attributes:
        matching = select(contact_attributes.c.contact_id).where(
            and_(
                contact_attributes.c.organization_id == organization_id,
                contact_attributes.c.name == name,
                contact_attributes.c.value_text == value,
            )
        )
        query = query.where(contacts.c.id.in_(matching))
    return query


def list_contacts(
    conn: Connection,
    *,
    organization_id: int,
    flt: ContactFilter,
    page: Page,
    newest_first: bool = False,
) -> tuple[int, list[Contact]]:
    """The total count of matching contacts and one page of them, oldest first (or newest
    first)."""
    query = _filtered(organization_id, flt)
    total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    order = contacts.c.id.desc() if newest_first else contacts.c.id
    ids = list(conn.execute(query.order_by(order).limit(page.size).offset(page.offset)).scalars())
    return int(total), _load(conn, organization_id, ids)


def get_contact(conn: Connection, *, organization_id: int, contact_id: int) -> Contact | None:
    found = _load(conn, organization_id, [contact_id])
    return found[0] if found else None


def _load(conn: Connection, organization_id: int, ids: list[int]) -> list[Contact]:
    if not ids:
        return []
    rows = conn.execute(
        select(contacts).where(
            contacts.c.organization_id == organization_id, contacts.c.id.in_(ids), listed()
        )
    ).all()
    attrs = attributes_of(conn, ids)
    lists: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for m in conn.execute(
        select(list_memberships.c.contact_id, contact_lists.c.id, contact_lists.c.name)
        .join(contact_lists, contact_lists.c.id == list_memberships.c.list_id)
        .where(list_memberships.c.contact_id.in_(ids))
        .order_by(contact_lists.c.id)
    ):
        lists[m.contact_id].append({"id": m.id, "name": m.name})
    by_id = {
        r.id: Contact(
            id=r.id,
            user_id=r.user_id,
            email=r.email,
            first_name=r.first_name,
            last_name=r.last_name,
            timezone=r.timezone,
            status=r.status,
            created_at=r.created_at,
            updated_at=r.updated_at,
            attributes=attrs[r.id],
            lists=lists[r.id],
        )
        for r in rows
    }
    return [by_id[i] for i in ids if i in by_id]


def attributes_of(conn: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each contact's attributes by name, as JSON values, names in order."""
    attrs: dict[int, dict[str, Any]] = {i: {} for i in ids}
    for a in conn.execute(
        select(contact_attributes)
        .where(contact_attributes.c.contact_id.in_(ids))
        .order_by(contact_attributes.c.name)
    ):
        value = AttributeValue(a.value_type, a.value_text, a.value_number, a.value_date)
        attrs[a.contact_id][a.name] = value.to_json()
    return attrs


def contact_events(
    conn: Connection, *, organization_id: int, contact_id: int, page: Page, name: str | None = None
) -> tuple[int, list[dict[str, Any]]]:
    """A contact's custom events, newest first."""
    where = [events.c.organization_id == organization_id, events.c.contact_id == contact_id]
    if name is not None:
        where.append(events.c.name == name)
    total = conn.execute(select(func.count()).select_from(events).where(*where)).scalar_one()
    rows = conn.execute(
        select(events)
        .where(*where)
        .order_by(events.c.timestamp.desc(), events.c.id.desc())
        .limit(page.size)
        .offset(page.offset)
    )
    return int(total), [
        {
            "id": r.id,
            "event": r.name,
            "properties": r.properties,
            "timestamp": r.timestamp,
            "received_at": r.received_at,
            "message_id": r.message_id,
            "survey_note": r.trigger_note,
        }
        for r in rows
    ]


def contact_orders(
    conn: Connection, *, organization_id: int, contact_id: int, page: Page
) -> tuple[int, list[dict[str, Any]]]:
    """A contact's orders (from Order Completed events), newest first."""
    where = [orders.c.organization_id == organization_id, orders.c.contact_id == contact_id]
    total = conn.execute(select(func.count()).select_from(orders).where(*where)).scalar_one()
    rows = conn.execute(
        select(orders)
        .where(*where)
        .order_by(orders.c.timestamp.desc(), orders.c.id.desc())
        .limit(page.size)
        .offset(page.offset)
    )
    fields = [*ORDER_FIELDS, "timestamp"]
    return int(total), [
        {"id": r.id, "event_id": r.event_id, **{f: getattr(r, f) for f in fields}} for r in rows
    ]


#: The statuses a contact can be given by hand, and the statuses each may replace. An
#: unsubscribed or bounced contact is never made active again here: unsubscribing is the
#: contact's own choice, and a bounce says the address does not work.
STATUS_CHANGES: dict[str, frozenset[str]] = {
    "unsubscribed": frozenset({"active", "inactive", "bounced"}),
    "inactive": frozenset({"active"}),
    "active": frozenset({"inactive"}),
}


class ContactNotFound(LookupError):
    """The organization has no contact with this id."""


class StatusChangeRefused(ValueError):
    """The contact's status cannot change as asked (its message says why)."""


def change_status(
    conn: Connection, *, organization_id: int, contact_id: int, status: str, now: datetime
) -> bool:
    """Give a contact one of the :data:`STATUS_CHANGES` statuses; a contact that may no
    longer be surveyed has its scheduled surveys and pending deliveries cancelled.

    Every status change asked for by a person or a program goes through here: the
    dashboard's buttons, the API's ``PATCH`` and ``contacts/remove/``.

    Returns whether the status changed (asking for the current status changes nothing);
    raises :class:`ContactNotFound` or :class:`StatusChangeRefused`.
    """
    replaces = STATUS_CHANGES.get(status)
    if replaces is None:
        raise StatusChangeRefused(f"{status!r} is not a status that can be set by hand")
    mine = and_(
        contacts.c.organization_id == organization_id, contacts.c.id == contact_id, listed()
    )
    changed = conn.execute(
        update(contacts)
        .where(mine, contacts.c.status.in_(sorted(replaces)))
        .values(status=status, updated_at=now)
    ).rowcount
    if not changed:
        current = conn.execute(select(contacts.c.status).where(mine)).scalar()
        if current is None:
            raise ContactNotFound(f"no contact with id {contact_id}")
        if current == status:
            return False
        raise StatusChangeRefused(f"a contact that is {current} cannot be made {status} here")
    if status in SUPPRESSED:
        cancel_pending(conn, contact_id=contact_id)
    if status == "unsubscribed":
        emit_contact_unsubscribed(
            conn, organization_id=organization_id, contact_id=contact_id, source="manual", now=now
        )
    return True
