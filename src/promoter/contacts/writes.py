"""Contacts written through the REST API: created or updated by email address, changed,
erased (and erased by userId, as Segment's ``delete`` asks).

Every function is scoped to one organization and takes the caller's connection; none
commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, exists, literal, select, text, union_all, update

from promoter.contacts.attribute_names import lock_names, organization_names
from promoter.contacts.events import emit_feedback_removed
from promoter.contacts.lists import add_members, existing_list_ids
from promoter.contacts.service import ContactNotFound, contact_ids_by_email, listed
from promoter.domain.attributes import AttributeLimits, AttributeValue, flatten_traits
from promoter.domain.eligibility import ANONYMOUS
from promoter.domain.emails import email_key
from promoter.domain.errors import InvalidMessage
from promoter.segment_source.events import forget_contact
from promoter.storage.dialect import insert_for
from promoter.storage.tables import contact_attributes, contacts, events, orders, organizations

#: The most attributes one request may set.
MAX_ATTRIBUTES = 200
#: Contact fields that hold a person's name.
NAME_FIELDS = ("first_name", "last_name")
_ATTRIBUTE_VALUES = ("value_type", "value_text", "value_number", "value_date", "updated_at")


class TooManyAttributes(ValueError):
    """The write would give the contact, or the organization, more attributes than allowed."""


class EmailTaken(ValueError):
    """Another contact of the organization has this email address."""


class UnknownLists(LookupError):
    """Some list ids are not the organization's lists."""

    def __init__(self, ids: Collection[int]) -> None:
        super().__init__(f"no contact lists {sorted(ids)}")
        self.ids = sorted(ids)


def typed_attributes(raw: Mapping[str, object]) -> dict[str, AttributeValue | None]:
    """Attributes given as JSON, typed as Segment traits are (nested objects become dotted
    names; ``null`` removes an attribute). Raises :class:`InvalidMessage`."""
    typed = flatten_traits(dict(raw))
    if len(typed) > MAX_ATTRIBUTES:
        raise InvalidMessage(f"at most {MAX_ATTRIBUTES} attributes at once")
    return typed


def upsert_contact(
    conn: Connection,
    *,
    organization_id: int,
    email: str,
    names: Mapping[str, str | None],
    attributes: Mapping[str, AttributeValue | None],
    list_ids: Collection[int],
    now: datetime,
    limits: AttributeLimits,
) -> tuple[int, bool]:
    """Create the contact with this address, or update the oldest one that has it.

    ``names`` holds the given name fields (absent ones are kept); attributes are merged
    (``None`` removes one); the contact joins ``list_ids`` and leaves no list. Returns the
    contact's id and whether it was created. Raises :class:`UnknownLists` or
    :class:`TooManyAttributes`.
    """
    _check_lists(conn, organization_id, list_ids)
    _lock_address(conn, organization_id, email)
    found = contact_ids_by_email(conn, organization_id=organization_id, email=email)
    if found:
        contact_id = found[0]
        _update_fields(conn, contact_id, {"email": email.strip(), **names}, now)
        created = False
    else:
        contact_id = conn.execute(
            contacts.insert()
            .values(
                organization_id=organization_id,
                user_id=None,
                email=email.strip(),
                email_key=email_key(email),
                first_name=names.get("first_name"),
                last_name=names.get("last_name"),
                status="active",
                created_at=now,
                updated_at=now,
            )
            .returning(contacts.c.id)
        ).scalar_one()
        created = True
    write_attributes(
        conn, organization_id, contact_id, attributes, now, replace=False, limits=limits
    )
    add_members(
        conn, organization_id=organization_id, list_ids=list_ids, contact_id=contact_id, now=now
    )
    return int(contact_id), created


def create_anonymous_contact(conn: Connection, *, organization_id: int, now: datetime) -> int:
    """A contact for one anonymous answer (a public link's): no userId, no address, never
    listed, counted or surveyed (its status is ``ANONYMOUS``). Returns its id."""
    contact_id = conn.execute(
        contacts.insert()
        .values(
            organization_id=organization_id,
            user_id=None,
            email="",
            email_key="",
            status=ANONYMOUS,
            created_at=now,
            updated_at=now,
        )
        .returning(contacts.c.id)
    ).scalar_one()
    return int(contact_id)


def update_contact(
    conn: Connection,
    *,
    organization_id: int,
    contact_id: int,
    fields: Mapping[str, str | None],
    attributes: Mapping[str, AttributeValue | None] | None,
    replace_attributes: bool,
    list_ids: Collection[int],
    now: datetime,
    limits: AttributeLimits,
) -> None:
    """Change the given ``fields`` (``email``, names); merge ``attributes``, or with
    ``replace_attributes`` make them the contact's only ones; join ``list_ids``.

    Raises :class:`ContactNotFound`, :class:`EmailTaken`, :class:`UnknownLists` or
    :class:`TooManyAttributes`.
    """
    current = conn.execute(
        select(contacts.c.email_key).where(
            contacts.c.organization_id == organization_id, contacts.c.id == contact_id, listed()
        )
    ).scalar()
    if current is None:
        raise ContactNotFound(f"no contact with id {contact_id}")
    _check_lists(conn, organization_id, list_ids)
    email = fields.get("email")
    if email is not None and email_key(email) != current:
        _lock_address(conn, organization_id, email)
        if contact_ids_by_email(conn, organization_id=organization_id, email=email):
            raise EmailTaken("contact with this email already exists.")
    _update_fields(conn, contact_id, fields, now)
    if attributes is not None:
        write_attributes(
            conn,
            organization_id,
            contact_id,
            attributes,
            now,
            replace=replace_attributes,
            limits=limits,
        )
    add_members(
        conn, organization_id=organization_id, list_ids=list_ids, contact_id=contact_id, now=now
    )


def erase(conn: Connection, *, organization_id: int, contact_id: int) -> bool:
    """Erase a contact and everything stored about it: attributes, memberships, events,
    orders, surveys and answers. Returns whether there was such a contact.

    A contact Segment identified goes the way of Segment's ``delete`` (which also takes
    the events its userId sent before it was identified).
    """
    user_id = conn.execute(
        select(contacts.c.user_id).where(
            contacts.c.organization_id == organization_id, contacts.c.id == contact_id
        )
    ).one_or_none()
    if user_id is None:
        return False
    if user_id[0] is not None:
        return erase_contact(conn, organization_id=organization_id, user_id=user_id[0])
    for table in (orders, events):
        conn.execute(
            delete(table).where(
                table.c.organization_id == organization_id, table.c.contact_id == contact_id
            )
        )
    conn.execute(delete(contacts).where(contacts.c.id == contact_id))
    # Its answers went with it: cached analytics must reload.
    conn.execute(
        update(organizations)
        .where(organizations.c.id == organization_id)
        .values(analytics_epoch=organizations.c.analytics_epoch + 1)
    )
    return True


def erase_contact(
    conn: Connection, *, organization_id: int, user_id: str, now: datetime | None = None
) -> bool:
    """Erase a contact and everything stored about it (Segment's ``delete``).

    Events and orders kept before the userId was identified go too. Subscribers to
    ``feedback.removed`` hear of each response that goes.
    """
    emit_feedback_removed(
        conn, organization_id=organization_id, user_id=user_id, now=now or datetime.now(UTC)
    )
    forget_contact(conn, organization_id=organization_id, user_id=user_id)
    removed = 0
    for table in (orders, events):
        removed += conn.execute(
            delete(table).where(
                table.c.organization_id == organization_id, table.c.user_id == user_id
            )
        ).rowcount
    result = conn.execute(
        delete(contacts).where(
            contacts.c.organization_id == organization_id, contacts.c.user_id == user_id
        )
    )
    if result.rowcount or removed:
        # Responses and events went: cached analytics must reload.
        conn.execute(
            update(organizations)
            .where(organizations.c.id == organization_id)
            .values(analytics_epoch=organizations.c.analytics_epoch + 1)
        )
    return result.rowcount > 0


def write_attributes(
    conn: Connection,
    organization_id: int,
    contact_id: int,
    attributes: Mapping[str, AttributeValue | None],
    now: datetime,
    *,
    replace: bool,
    limits: AttributeLimits,
) -> None:
    """Upsert attribute values (``None`` removes one); with ``replace``, the contact's
    other attributes go. Raises :class:`TooManyAttributes` past ``limits``."""
    if replace:
        keep = [name for name, value in attributes.items() if value is not None]
        conn.execute(
            delete(contact_attributes).where(
                contact_attributes.c.contact_id == contact_id,
                contact_attributes.c.name.not_in(keep),
            )
        )
    removed = [name for name, value in attributes.items() if value is None]
    if removed:
        conn.execute(
            delete(contact_attributes).where(
                contact_attributes.c.contact_id == contact_id,
                contact_attributes.c.name.in_(removed),
            )
        )
    rows = [
        {
            "contact_id": contact_id,
            "name": name,
            "organization_id": organization_id,
            "value_type": value.type,
            "value_text": value.text,
            "value_number": value.number,
            "value_date": value.date,
            "updated_at": now,
        }
        for name, value in attributes.items()
        if value is not None
    ]
    if rows:
        named = [name for name, value in attributes.items() if value is not None]
        _check_limits(conn, organization_id, contact_id, named, limits)
        stmt = insert_for(conn, contact_attributes)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["contact_id", "name"],
                set_={name: stmt.excluded[name] for name in _ATTRIBUTE_VALUES},
            ),
            rows,
        )


def _check_limits(
    conn: Connection,
    organization_id: int,
    contact_id: int,
    names: Collection[str],
    limits: AttributeLimits,
) -> None:
    """Refuse names that would take the contact, or the organization, past ``limits``
    (what the contact has already can always be set again)."""
    held = set(
        conn.scalars(
            select(contact_attributes.c.name).where(contact_attributes.c.contact_id == contact_id)
        )
    )
    adding = [name for name in names if name not in held]
    if not adding:
        return
    if len(held) + len(adding) > limits.per_contact:
        raise TooManyAttributes(
            f"A contact holds at most {limits.per_contact} attributes: this one has "
            f"{len(held)}, and {len(adding)} would be added."
        )
    if not _names_new_to(conn, organization_id, adding):
        return
    lock_names(conn, organization_id)
    known = organization_names(conn, organization_id)
    new = [name for name in adding if name not in known]
    if new and len(known) + len(new) > limits.per_organization:
        raise TooManyAttributes(
            f"An organization has at most {limits.per_organization} attribute names: "
            f"{len(known)} are in use, and {len(new)} would be added "
            f"(first: {new[0][:40]!r})."
        )


def _names_new_to(conn: Connection, organization_id: int, names: Collection[str]) -> set[str]:
    """Which of ``names`` no contact of the organization holds (one index probe each)."""
    held = union_all(
        *(
            select(literal(name).label("name")).where(
                exists().where(
                    contact_attributes.c.organization_id == organization_id,
                    contact_attributes.c.name == name,
                )
            )
            for name in names
        )
    )
    return set(names) - set(conn.scalars(held))


def _update_fields(
    conn: Connection, contact_id: int, fields: Mapping[str, str | None], now: datetime
) -> None:
    values: dict[str, object] = {k: v for k, v in fields.items() if k in NAME_FIELDS}
    email = fields.get("email")
    if email is not None:
        values.update(email=email.strip(), email_key=email_key(email))
    if values:
        conn.execute(
            update(contacts).where(contacts.c.id == contact_id).values(updated_at=now, **values)
        )


def _check_lists(conn: Connection, organization_id: int, list_ids: Collection[int]) -> None:
    unknown = set(list_ids) - existing_list_ids(conn, organization_id=organization_id, ids=list_ids)
    if unknown:
        raise UnknownLists(unknown)


def _lock_address(conn: Connection, organization_id: int, email: str) -> None:
    """On PostgreSQL, serialise writers of the same address until they commit, so two
    requests creating one address make one contact. (SQLite has one writer at a time.)"""
    if conn.dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(
        f"contact-email:{organization_id}:{email_key(email)}".encode(), digest_size=8
    ).digest()
    conn.execute(
        text("SELECT pg_advisory_xact_lock(:key)"),
        {"key": int.from_bytes(digest, "big", signed=True)},
    )
