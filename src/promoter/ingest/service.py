"""Applying parsed Segment operations to the database.

One call handles one request's operations inside the caller's transaction:
replays are dropped by ``messageId``, then the operations are applied in
order, with the writes of each run between two ``delete`` messages grouped
into a few multi-row statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, text, update

from promoter.domain.attributes import AttributeValue
from promoter.domain.messages import Delete, Identify, Ignored, Operation, Track
from promoter.ingest.listeners import StoredTrack, TrackListener
from promoter.ingest.results import MessageResult
from promoter.orgs.service import segment_list_id
from promoter.storage.dialect import insert_for
from promoter.storage.tables import (
    contact_attributes,
    contacts,
    events,
    list_memberships,
    orders,
    processed_messages,
)

UNIDENTIFIED = "unidentified"
#: Parameters per IN (...) query, well under SQLite's and PostgreSQL's limits.
_CHUNK = 500


@dataclass(slots=True)
class _Contact:
    id: int | None
    email: str | None
    first_name: str | None
    last_name: str | None
    timezone: str | None
    changed: bool = False


@dataclass(slots=True)
class _Run:
    """Operations between two deletes, applied together."""

    items: list[tuple[int, Identify | Track]] = field(default_factory=list)


class Ingestor:
    """Applies operations for one organization; listeners see the stored tracks."""

    def __init__(self, listeners: Sequence[TrackListener] = ()) -> None:
        self._listeners = tuple(listeners)

    def apply(
        self,
        conn: Connection,
        *,
        organization_id: int,
        operations: Sequence[tuple[int, Operation]],
        received_at: datetime,
    ) -> list[MessageResult]:
        """Apply ``(index, operation)`` pairs; return one result per pair, in index order."""
        results: dict[int, MessageResult] = {}
        _lock_users(conn, organization_id, operations)
        fresh = self._claim_message_ids(conn, organization_id, operations, received_at, results)
        tracks: list[StoredTrack] = []
        run = _Run()
        for index, op in fresh:
            if isinstance(op, Delete):
                tracks += self._apply_run(conn, organization_id, run, received_at, results)
                run = _Run()
                erase_contact(conn, organization_id=organization_id, user_id=op.user_id)
                results[index] = MessageResult(index, op.message_id, "accepted")
            else:
                run.items.append((index, op))
        tracks += self._apply_run(conn, organization_id, run, received_at, results)
        if tracks:
            for listener in self._listeners:
                listener.on_tracks(conn, tracks)
        return [results[i] for i in sorted(results)]

    def _claim_message_ids(
        self,
        conn: Connection,
        organization_id: int,
        operations: Sequence[tuple[int, Operation]],
        received_at: datetime,
        results: dict[int, MessageResult],
    ) -> list[tuple[int, Identify | Track | Delete]]:
        """Record each new ``messageId``; answer replays as duplicates."""
        seen: set[str] = set()
        candidates: list[tuple[int, Identify | Track | Delete]] = []
        for index, op in operations:
            if isinstance(op, Ignored):
                results[index] = MessageResult(index, op.message_id, "ignored", op.reason)
            elif op.message_id in seen:
                results[index] = MessageResult(index, op.message_id, "duplicate")
            else:
                seen.add(op.message_id)
                candidates.append((index, op))
        if not candidates:
            return []
        stmt = (
            insert_for(conn, processed_messages)
            .on_conflict_do_nothing(index_elements=["organization_id", "message_id"])
            .returning(processed_messages.c.message_id)
        )
        rows = [
            {
                "organization_id": organization_id,
                "message_id": op.message_id,
                "received_at": received_at,
            }
            for _, op in candidates
        ]
        claimed = set(conn.execute(stmt, rows).scalars())
        fresh = []
        for index, op in candidates:
            if op.message_id in claimed:
                fresh.append((index, op))
            else:
                results[index] = MessageResult(index, op.message_id, "duplicate")
        return fresh

    def _apply_run(
        self,
        conn: Connection,
        organization_id: int,
        run: _Run,
        received_at: datetime,
        results: dict[int, MessageResult],
    ) -> list[StoredTrack]:
        if not run.items:
            return []
        known = _load_contacts(conn, organization_id, {op.user_id for _, op in run.items})
        created: list[str] = []
        attributes: dict[tuple[str, str], AttributeValue | None] = {}
        identified: list[str] = []
        for index, op in run.items:
            if not isinstance(op, Identify):
                continue
            contact = known.get(op.user_id)
            if contact is None:
                if op.email is None:
                    results[index] = MessageResult(
                        index,
                        op.message_id,
                        "rejected",
                        "`traits.email` is required to create a contact",
                    )
                    continue
                contact = known[op.user_id] = _Contact(None, None, None, None, None)
                created.append(op.user_id)
            _merge_identify(contact, op)
            for name, value in op.attributes.items():
                attributes[(op.user_id, name)] = value
            identified.append(op.user_id)
            results[index] = MessageResult(index, op.message_id, "accepted")

        ids = _write_contacts(conn, organization_id, known, created, received_at)
        _write_attributes(conn, organization_id, ids, attributes, received_at)
        if identified:
            _add_to_segment_list(conn, organization_id, {ids[u] for u in identified}, received_at)
        if created:
            _link_earlier_events(conn, organization_id, {u: ids[u] for u in created})
        track_items = [(i, op) for i, op in run.items if isinstance(op, Track)]
        stored = _write_tracks(conn, organization_id, track_items, ids, received_at)
        for (index, op), track in zip(track_items, stored, strict=True):
            reason = None if track.contact_id else "userId not identified yet: event kept, flagged"
            results[index] = MessageResult(index, op.message_id, "accepted", reason)
        return stored


def _lock_users(
    conn: Connection, organization_id: int, operations: Sequence[tuple[int, Operation]]
) -> None:
    """On PostgreSQL, serialise requests that touch the same userIds until they commit.

    Without it, an identify and a track for a new userId arriving at the same moment
    could each miss the other's uncommitted row, leaving the event unlinked. SQLite
    already runs one write transaction at a time. Locks are taken in hash order, so two
    requests cannot deadlock on them.
    """
    if conn.dialect.name != "postgresql":
        return
    user_ids = sorted({op.user_id for _, op in operations if not isinstance(op, Ignored)})
    if not user_ids:
        return
    conn.execute(
        text(
            "SELECT pg_advisory_xact_lock(:org, h) FROM "
            "(SELECT DISTINCT hashtext(u) AS h FROM unnest(CAST(:users AS text[])) AS u "
            "ORDER BY h) AS locks"
        ),
        {"org": organization_id, "users": user_ids},
    )


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]


def _load_contacts(
    conn: Connection, organization_id: int, user_ids: set[str]
) -> dict[str, _Contact]:
    found: dict[str, _Contact] = {}
    for chunk in _chunks(sorted(user_ids)):
        rows = conn.execute(
            select(
                contacts.c.id,
                contacts.c.user_id,
                contacts.c.email,
                contacts.c.first_name,
                contacts.c.last_name,
                contacts.c.timezone,
            ).where(contacts.c.organization_id == organization_id, contacts.c.user_id.in_(chunk))
        )
        for r in rows:
            found[r.user_id] = _Contact(r.id, r.email, r.first_name, r.last_name, r.timezone)
    return found


def _merge_identify(contact: _Contact, op: Identify) -> None:
    """Fields an identify carries replace the stored ones; absent ones are kept."""
    for name in ("email", "first_name", "last_name", "timezone"):
        value = getattr(op, name)
        if value is not None and value != getattr(contact, name):
            setattr(contact, name, value)
            contact.changed = True


def _write_contacts(
    conn: Connection,
    organization_id: int,
    known: dict[str, _Contact],
    created: list[str],
    now: datetime,
) -> dict[str, int]:
    """Insert new contacts, update changed ones; return userId -> contact id."""
    if created:
        rows = [
            {
                "organization_id": organization_id,
                "user_id": user_id,
                "email": known[user_id].email,
                "first_name": known[user_id].first_name,
                "last_name": known[user_id].last_name,
                "timezone": known[user_id].timezone,
                "status": "active",
                "created_at": now,
                "updated_at": now,
            }
            for user_id in created
        ]
        # A concurrent request may create the same userId first (PostgreSQL): then this
        # one updates that contact instead.
        stmt = (
            insert_for(conn, contacts)
            .on_conflict_do_nothing(index_elements=["organization_id", "user_id"])
            .returning(contacts.c.id, contacts.c.user_id)
        )
        for row in conn.execute(stmt, rows):
            known[row.user_id].id = row.id
        raced = [u for u in created if known[u].id is None]
        for user_id, existing in _load_contacts(conn, organization_id, set(raced)).items():
            known[user_id].id = existing.id
        created[:] = [u for u in created if u not in set(raced)]
    new = set(created)
    changed = [
        {
            "cid": c.id,
            "email": c.email,
            "first_name": c.first_name,
            "last_name": c.last_name,
            "timezone": c.timezone,
            "updated_at": now,
        }
        for user_id, c in known.items()
        if c.changed and user_id not in new
    ]
    if changed:
        conn.execute(
            update(contacts)
            .where(contacts.c.id == bindparam("cid"))
            .values(
                email=bindparam("email"),
                first_name=bindparam("first_name"),
                last_name=bindparam("last_name"),
                timezone=bindparam("timezone"),
                updated_at=bindparam("updated_at"),
            ),
            changed,
        )
    return {user_id: c.id for user_id, c in known.items() if c.id is not None}


def _write_attributes(
    conn: Connection,
    organization_id: int,
    ids: dict[str, int],
    attributes: dict[tuple[str, str], AttributeValue | None],
    now: datetime,
) -> None:
    upserts = []
    removals = []
    for (user_id, name), value in attributes.items():
        contact_id = ids[user_id]
        if value is None:
            removals.append({"cid": contact_id, "aname": name})
            continue
        upserts.append(
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
        )
    if upserts:
        stmt = insert_for(conn, contact_attributes)
        stmt = stmt.on_conflict_do_update(
            index_elements=["contact_id", "name"],
            set_={
                name: stmt.excluded[name]
                for name in ("value_type", "value_text", "value_number", "value_date", "updated_at")
            },
        )
        conn.execute(stmt, upserts)
    if removals:
        conn.execute(
            delete(contact_attributes).where(
                contact_attributes.c.contact_id == bindparam("cid"),
                contact_attributes.c.name == bindparam("aname"),
            ),
            removals,
        )


def _add_to_segment_list(
    conn: Connection, organization_id: int, contact_ids: set[int], now: datetime
) -> None:
    list_id = segment_list_id(conn, organization_id=organization_id)
    stmt = insert_for(conn, list_memberships).on_conflict_do_nothing(
        index_elements=["list_id", "contact_id"]
    )
    rows = [
        {"list_id": list_id, "contact_id": cid, "created_at": now} for cid in sorted(contact_ids)
    ]
    conn.execute(stmt, rows)


def _link_earlier_events(conn: Connection, organization_id: int, created: dict[str, int]) -> None:
    """Tracks stored before their userId was identified now belong to the new contact."""
    rows = [{"uid": user_id, "cid": cid} for user_id, cid in created.items()]
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


def _write_tracks(
    conn: Connection,
    organization_id: int,
    items: list[tuple[int, Track]],
    ids: dict[str, int],
    received_at: datetime,
) -> list[StoredTrack]:
    if not items:
        return []
    rows = [
        {
            "organization_id": organization_id,
            "contact_id": ids.get(op.user_id),
            "user_id": op.user_id,
            "name": op.event,
            "properties": op.properties,
            "timestamp": op.timestamp,
            "received_at": received_at,
            "message_id": op.message_id,
            "flag": None if op.user_id in ids else UNIDENTIFIED,
        }
        for _, op in items
    ]
    # messageIds are unique within a request (replays were dropped), so they map the
    # returned ids back to rows without asking for RETURNING in parameter order, which
    # SQLite can only honour one row at a time.
    stmt = insert(events).returning(events.c.id, events.c.message_id)
    event_ids = {row.message_id: row.id for row in conn.execute(stmt, rows)}
    order_rows = []
    stored = []
    for _, op in items:
        event_id = event_ids[op.message_id]
        contact_id = ids.get(op.user_id)
        stored.append(
            StoredTrack(
                event_id=event_id,
                organization_id=organization_id,
                contact_id=contact_id,
                user_id=op.user_id,
                name=op.event,
                properties=op.properties,
                timestamp=op.timestamp,
                timezone=op.timezone,
            )
        )
        if op.order is not None:
            facts = op.order
            order_rows.append(
                {
                    "organization_id": organization_id,
                    "event_id": event_id,
                    "contact_id": contact_id,
                    "user_id": op.user_id,
                    "order_id": facts.order_id,
                    "checkout_id": facts.checkout_id,
                    "total": facts.total,
                    "revenue": facts.revenue,
                    "subtotal": facts.subtotal,
                    "shipping": facts.shipping,
                    "tax": facts.tax,
                    "discount": facts.discount,
                    "currency": facts.currency,
                    "coupon": facts.coupon,
                    "products": facts.products,
                    "timestamp": op.timestamp,
                }
            )
    if order_rows:
        conn.execute(insert(orders), order_rows)
    return stored


def erase_contact(conn: Connection, *, organization_id: int, user_id: str) -> bool:
    """Erase a contact and everything stored about it (Segment's ``delete``).

    Events and orders kept before the userId was identified go too.
    """
    for table in (orders, events):
        conn.execute(
            delete(table).where(
                table.c.organization_id == organization_id, table.c.user_id == user_id
            )
        )
    result = conn.execute(
        delete(contacts).where(
            contacts.c.organization_id == organization_id, contacts.c.user_id == user_id
        )
    )
    return result.rowcount > 0
