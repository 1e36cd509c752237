"""The statements behind ingestion: contacts, attributes, lists, events, orders.

Append-heavy writes (message ids, attributes, memberships, events, orders) go through
:class:`~promoter.storage.bulk.BulkInsert`; the rest through SQLAlchemy Core.
Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, update

from promoter.contacts.lists import segment_list_id
from promoter.domain.attributes import AttributeValue
from promoter.domain.emails import email_key
from promoter.domain.messages import Identify, Track
from promoter.domain.orders import ORDER_FIELDS
from promoter.ingest.listeners import StoredTrack, TrackListener
from promoter.storage.bulk import BulkInsert, InSelect, allocate_ids, insert_rows, queue_ids
from promoter.storage.dialect import insert_for
from promoter.storage.pipeline import Pipeline, pipeline
from promoter.storage.tables import (
    contact_attributes,
    contacts,
    events,
    list_memberships,
    orders,
    processed_messages,
)

UNIDENTIFIED = "unidentified"
#: Advisory locks userIds are spread over on PostgreSQL (a power of two).
USER_LOCK_BUCKETS = 256
#: Parameters per IN (...) query, well under SQLite's and PostgreSQL's limits.
_CHUNK = 500
_ATTRIBUTE_VALUES = ("value_type", "value_text", "value_number", "value_date", "updated_at")
# The columns of the rows each bulk insert takes, in order.
_ATTRIBUTE_COLUMNS = ("contact_id", "name", "organization_id", *_ATTRIBUTE_VALUES)
_EVENT_COLUMNS = (
    "id",
    "organization_id",
    "contact_id",
    "user_id",
    "name",
    "properties",
    "timestamp",
    "received_at",
    "message_id",
    "flag",
    "trigger_note",
)
_ORDER_COLUMNS = (
    "organization_id",
    "event_id",
    "contact_id",
    "user_id",
    *ORDER_FIELDS,
    "timestamp",
)
_NEW_CONTACT_COLUMNS = (
    "organization_id",
    "user_id",
    "email",
    "email_key",
    "first_name",
    "last_name",
    "timezone",
    "status",
    "created_at",
    "updated_at",
)

# The reads and updates of every request, built once: building a statement costs more
# than running it. Lists travel as one parameter (see InSelect).
_SEEN_MESSAGE_IDS = InSelect(
    "SELECT message_id FROM processed_messages WHERE organization_id = {p} AND message_id {in}"
)
_CONTACTS_BY_USER_ID = InSelect(
    "SELECT id, user_id, email, first_name, last_name, timezone FROM contacts"
    " WHERE organization_id = {p} AND user_id {in}"
)
_UNLINKED_USER_IDS = InSelect(
    "SELECT DISTINCT user_id FROM events"
    " WHERE organization_id = {p} AND contact_id IS NULL AND user_id {in}"
)
#: PostgreSQL: the userIds' advisory locks, in order (see Ingestor.apply).
_LOCK_USERS = (
    "SELECT pg_advisory_xact_lock(%s, h) FROM"
    " (SELECT DISTINCT hashtext(u) & %s AS h FROM unnest(%s::text[]) AS u ORDER BY h) AS locks"
)
#: PostgreSQL's claim: concurrent replays wait for the first to commit, then skip.
_CLAIM_MESSAGE_IDS = (
    "INSERT INTO processed_messages (organization_id, message_id, received_at)"
    " SELECT %s, m, %s FROM unnest(%s::text[]) AS m"
    " ON CONFLICT (organization_id, message_id) DO NOTHING RETURNING message_id"
)
#: New contacts on PostgreSQL: one fixed statement, whatever their number (an INSERT of
#: many VALUES rows is new SQL for each count, which the driver parses again each time).
_INSERT_NEW_CONTACTS = (
    "INSERT INTO contacts (organization_id, user_id, email, email_key, first_name,"
    " last_name, timezone, status, created_at, updated_at)"
    " SELECT %s, u, e, k, f, l, z, 'active', %s, %s"
    " FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])"
    " AS n(u, e, k, f, l, z)"
    " ON CONFLICT (organization_id, user_id) DO NOTHING RETURNING id, user_id"
)
_UPDATE_CONTACT = (
    update(contacts)
    .where(contacts.c.id == bindparam("cid"))
    .values(
        email=bindparam("email"),
        email_key=bindparam("email_key"),
        first_name=bindparam("first_name"),
        last_name=bindparam("last_name"),
        timezone=bindparam("timezone"),
        updated_at=bindparam("updated_at"),
    )
)


@dataclass(slots=True)
class Contact:
    """What an identify may change on a contact; ``id`` is None until inserted."""

    id: int | None
    email: str | None
    first_name: str | None
    last_name: str | None
    timezone: str | None
    changed: bool = False


@dataclass(frozen=True, slots=True)
class Preread:
    """PostgreSQL: the contacts of ``user_ids`` (as load_contacts) and new event ids,
    read in the round trip of the messageId claim, for the first run of operations."""

    user_ids: frozenset[str]
    contacts: dict[str, Contact]
    event_ids: list[int]

    def covers(self, user_ids: set[str], tracks: int) -> bool:
        return user_ids <= self.user_ids and tracks <= len(self.event_ids)


def _upsert_attributes(conn: Connection) -> Any:
    stmt = insert_for(conn, contact_attributes)
    return stmt.on_conflict_do_update(
        index_elements=["contact_id", "name"],
        set_={name: stmt.excluded[name] for name in _ATTRIBUTE_VALUES},
    )


class IngestWrites:
    """Prepared statements of the ingestion hot path, compiled once per dialect."""

    def __init__(self) -> None:
        self._message_ids = BulkInsert(
            processed_messages, ("organization_id", "message_id", "received_at")
        )
        self._attributes = BulkInsert(
            contact_attributes, _ATTRIBUTE_COLUMNS, build=_upsert_attributes
        )
        self._memberships = BulkInsert(
            list_memberships,
            ("list_id", "contact_id", "created_at"),
            build=lambda conn: insert_for(conn, list_memberships).on_conflict_do_nothing(
                index_elements=["list_id", "contact_id"]
            ),
        )
        self._events = BulkInsert(events, _EVENT_COLUMNS)
        self._orders = BulkInsert(orders, _ORDER_COLUMNS)
        self.new_contacts = BulkInsert(contacts, ("id", *_NEW_CONTACT_COLUMNS))

    def claim_message_ids(
        self,
        conn: Connection,
        organization_id: int,
        message_ids: list[str],
        now: datetime,
        lock_users: Sequence[str] = (),
        read_first: tuple[set[str], int] | None = None,
    ) -> tuple[set[str], Preread | None]:
        """Record the messageIds not seen before and return them. On PostgreSQL, in the
        same round trip, first take the advisory locks of ``lock_users``, and after the
        claim read what ``read_first`` names (userIds, a number of tracks): their
        contacts and as many new event ids (None on SQLite, or without ``read_first``)."""
        if conn.dialect.name == "postgresql":
            stored = processed_messages.c.received_at.type._cached_bind_processor(conn.dialect)
            params = (organization_id, stored(now) if stored else now, message_ids)
            read = None
            with pipeline(conn) as queued:
                if lock_users:
                    users = sorted(set(lock_users))
                    queued.write(_LOCK_USERS, (organization_id, USER_LOCK_BUCKETS - 1, users))
                claimed = queued.execute(_CLAIM_MESSAGE_IDS, params)
                if read_first is not None:
                    read = _queue_contacts_and_ids(conn, queued, organization_id, *read_first)
            preread = None
            if read is not None and read_first is not None:
                preread = Preread(frozenset(read_first[0]), *read())
            return {row[0] for row in claimed.all()}, preread
        # SQLite: this transaction is the only writer, so "not there yet" stays true.
        seen = {r[0] for r in _SEEN_MESSAGE_IDS.rows(conn, organization_id, values=message_ids)}
        fresh = [mid for mid in message_ids if mid not in seen]
        self._message_ids.execute(conn, [(organization_id, mid, now) for mid in fresh])
        return set(fresh), None

    def attributes(
        self,
        conn: Connection,
        organization_id: int,
        ids: dict[str, int],
        attributes: dict[tuple[str, str], AttributeValue | None],
        now: datetime,
    ) -> None:
        """Upsert attribute values; ``None`` removes the attribute."""
        upserts = []
        removals = []
        for (user_id, name), value in attributes.items():
            contact_id = ids[user_id]
            if value is None:
                removals.append({"cid": contact_id, "aname": name})
                continue
            upserts.append(
                (
                    contact_id,
                    name,
                    organization_id,
                    value.type,
                    value.text,
                    value.number,
                    value.date,
                    now,
                )
            )
        self._attributes.execute(conn, upserts)
        if removals:
            conn.execute(
                delete(contact_attributes).where(
                    contact_attributes.c.contact_id == bindparam("cid"),
                    contact_attributes.c.name == bindparam("aname"),
                ),
                removals,
            )

    def add_to_segment_list(
        self, conn: Connection, organization_id: int, contact_ids: set[int], now: datetime
    ) -> None:
        list_id = segment_list_id(conn, organization_id=organization_id)
        self._memberships.execute(
            conn,
            [(list_id, cid, now) for cid in sorted(contact_ids)],
        )

    def contacts_and_event_ids(
        self, conn: Connection, organization_id: int, user_ids: set[str], tracks: int
    ) -> tuple[dict[str, Contact], list[int]]:
        """The contacts of ``user_ids`` (see load_contacts) and ``tracks`` new event ids;
        on PostgreSQL in one round trip."""
        if conn.dialect.name != "postgresql":
            return load_contacts(conn, organization_id, user_ids), allocate_ids(
                conn, events, tracks
            )
        with pipeline(conn) as queued:
            read = _queue_contacts_and_ids(conn, queued, organization_id, user_ids, tracks)
        return read()

    def tracks(
        self,
        conn: Connection,
        organization_id: int,
        items: list[tuple[int, Track]],
        event_ids: list[int],
        ids: dict[str, int],
        identified_at: dict[str, int],
        received_at: datetime,
        listeners: Sequence[TrackListener] = (),
    ) -> list[StoredTrack]:
        """Store track events (and orders) under ``event_ids`` (one each, from
        contacts_and_event_ids); return them as listeners see them.

        A track that came before the identify creating its contact (``identified_at``)
        is stored linked to it, as it would be once that identify arrived, but listeners
        see it as unidentified, as it was when it happened.
        """
        if not items:
            return []
        contact_ids = []
        order_rows = []
        stored = []
        for (index, op), event_id in zip(items, event_ids, strict=True):
            contact_id = ids.get(op.user_id)
            contact_ids.append(contact_id)
            known_then = contact_id is not None and identified_at.get(op.user_id, -1) < index
            stored.append(
                StoredTrack(
                    event_id=event_id,
                    organization_id=organization_id,
                    contact_id=contact_id if known_then else None,
                    user_id=op.user_id,
                    name=op.event,
                    properties=op.properties,
                    timestamp=op.timestamp,
                    timezone=op.timezone,
                )
            )
            if op.order is not None:
                order_rows.append(_order_row(organization_id, event_id, contact_id, op))
        notes: dict[int, str] = {}
        for listener in listeners:
            notes.update(listener.on_tracks(conn, stored) or {})
        rows = [
            (
                event_id,
                organization_id,
                contact_id,
                op.user_id,
                op.event,
                op.properties,
                op.timestamp,
                received_at,
                op.message_id,
                None if contact_id else UNIDENTIFIED,
                notes.get(event_id),
            )
            for (_, op), event_id, contact_id in zip(items, event_ids, contact_ids, strict=True)
        ]
        insert_rows(conn, [(self._events, rows), (self._orders, order_rows)])
        return stored

    def release_message_ids(
        self, conn: Connection, organization_id: int, message_ids: list[str]
    ) -> None:
        """Forget claimed messageIds (of messages rejected after all)."""
        for chunk in _chunks(message_ids):
            conn.execute(
                delete(processed_messages).where(
                    processed_messages.c.organization_id == organization_id,
                    processed_messages.c.message_id.in_(chunk),
                )
            )


def _order_row(
    organization_id: int, event_id: int, contact_id: int | None, op: Track
) -> tuple[Any, ...]:
    facts = op.order
    assert facts is not None
    return (
        organization_id,
        event_id,
        contact_id,
        op.user_id,
        *(getattr(facts, name) for name in ORDER_FIELDS),
        op.timestamp,
    )


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]


def load_contacts(conn: Connection, organization_id: int, user_ids: set[str]) -> dict[str, Contact]:
    """The organization's contacts among ``user_ids``, by userId."""
    if not user_ids:
        return {}
    return _contacts(_CONTACTS_BY_USER_ID.rows(conn, organization_id, values=sorted(user_ids)))


def _queue_contacts_and_ids(
    conn: Connection, queued: Pipeline, organization_id: int, user_ids: set[str], tracks: int
) -> Callable[[], tuple[dict[str, Contact], list[int]]]:
    """PostgreSQL: queue the contacts of ``user_ids`` and ``tracks`` new event ids on
    ``queued``; what is returned reads them, after the pipeline."""
    found = _CONTACTS_BY_USER_ID.queue(conn, queued, organization_id, values=sorted(user_ids))
    ids = queue_ids(queued, events, tracks) if tracks else None
    return lambda: (_contacts(found.all()), ids.all() if ids is not None else [])


def _contacts(rows: Sequence[Any]) -> dict[str, Contact]:
    """Rows of _CONTACTS_BY_USER_ID by userId."""
    return {
        user_id: Contact(cid, email, first, last, zone)
        for cid, user_id, email, first, last, zone in rows
    }


def merge_identify(contact: Contact, op: Identify) -> None:
    """Fields an identify carries replace the stored ones; absent ones are kept."""
    for name in ("email", "first_name", "last_name", "timezone"):
        value = getattr(op, name)
        if value is not None and value != getattr(contact, name):
            setattr(contact, name, value)
            contact.changed = True


def write_contacts(
    conn: Connection,
    organization_id: int,
    known: dict[str, Contact],
    created: list[str],
    now: datetime,
    new_contacts: BulkInsert | None = None,
) -> dict[str, int]:
    """Insert new contacts, update changed ones; return userId -> contact id.

    On SQLite, with ``new_contacts`` (a BulkInsert into contacts), new contacts get their
    ids up front: the transaction is the database's only writer, so no other request can
    create the same userIds meanwhile.
    """
    rows = [
        (
            organization_id,
            user_id,
            known[user_id].email,
            email_key(known[user_id].email or ""),
            known[user_id].first_name,
            known[user_id].last_name,
            known[user_id].timezone,
            "active",
            now,
            now,
        )
        for user_id in created
    ]
    if rows and new_contacts is not None and conn.dialect.name == "sqlite":
        ids = allocate_ids(conn, contacts, len(rows))
        for user_id, cid in zip(created, ids, strict=True):
            known[user_id].id = cid
        new_contacts.execute(conn, [(cid, *row) for cid, row in zip(ids, rows, strict=True)])
    elif rows:
        # A concurrent request may create the same userId first (PostgreSQL): then this
        # one updates that contact instead.
        for contact_id, user_id in _insert_new(conn, rows, now):
            known[user_id].id = contact_id
        raced = [u for u in created if known[u].id is None]
        for user_id, existing in load_contacts(conn, organization_id, set(raced)).items():
            known[user_id].id = existing.id
        created[:] = [u for u in created if u not in set(raced)]
    new = set(created)
    changed = [
        {
            "cid": c.id,
            "email": c.email,
            "email_key": email_key(c.email or ""),
            "first_name": c.first_name,
            "last_name": c.last_name,
            "timezone": c.timezone,
            "updated_at": now,
        }
        for user_id, c in known.items()
        if c.changed and user_id not in new
    ]
    if changed:
        conn.execute(_UPDATE_CONTACT, changed)
    return {user_id: c.id for user_id, c in known.items() if c.id is not None}


def _insert_new(
    conn: Connection, rows: list[tuple[Any, ...]], now: datetime
) -> list[tuple[int, str]]:
    """Insert the new contacts' ``rows`` (in _NEW_CONTACT_COLUMNS' order) unless their
    userId exists by now; the id and userId of each inserted."""
    if conn.dialect.name == "postgresql":
        stored = contacts.c.created_at.type._cached_bind_processor(conn.dialect)
        at = stored(now) if stored else now
        columns = list(zip(*rows, strict=True))
        texts = [list(column) for column in columns[1:7]]  # user_id ... timezone
        params = (rows[0][0], at, at, *texts)
        return [(row[0], row[1]) for row in conn.exec_driver_sql(_INSERT_NEW_CONTACTS, params)]
    stmt = (
        insert_for(conn, contacts)
        .on_conflict_do_nothing(index_elements=["organization_id", "user_id"])
        .returning(contacts.c.id, contacts.c.user_id)
    )
    named = [dict(zip(_NEW_CONTACT_COLUMNS, row, strict=True)) for row in rows]
    return [(row.id, row.user_id) for row in conn.execute(stmt, named)]


def link_earlier_events(conn: Connection, organization_id: int, created: dict[str, int]) -> None:
    """Tracks stored before their userId was identified now belong to the new contact."""
    # Usually there are none: look before updating.
    waiting = {r[0] for r in _UNLINKED_USER_IDS.rows(conn, organization_id, values=list(created))}
    rows = [{"uid": user_id, "cid": created[user_id]} for user_id in sorted(waiting)]
    if not rows:
        return
    for table in (events, orders):
        values: dict[str, Any] = {"contact_id": bindparam("cid")}
        if table is events:
            values["flag"] = None
        conn.execute(
            update(table)
            .where(
                table.c.organization_id == organization_id,
                table.c.user_id == bindparam("uid"),
                table.c.contact_id.is_(None),
            )
            .values(**values),
            rows,
        )
