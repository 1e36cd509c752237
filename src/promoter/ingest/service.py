"""Applying parsed Segment operations to the database.

One call handles one request's operations inside the caller's transaction:
replays are dropped by ``messageId``, then the operations are applied in
order, with the writes of each run between two ``delete`` messages grouped
into a few multi-row statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import Connection

from promoter.contacts.writes import erase_contact
from promoter.domain.attributes import AttributeLimits, AttributeValue
from promoter.domain.messages import Delete, Identify, Ignored, Operation, Track
from promoter.ingest.attribute_limits import OrganizationNames, admit_attributes
from promoter.ingest.listeners import StoredTrack, TrackListener
from promoter.ingest.results import MessageResult
from promoter.ingest.writes import (
    Contact,
    IngestWrites,
    Preread,
    link_earlier_events,
    merge_identify,
    write_contacts,
)


@dataclass(slots=True)
class _Run:
    """Operations between two deletes, applied together."""

    items: list[tuple[int, Identify | Track]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class IngestRequest:
    """One request's parsed operations, as ``(message index, operation)`` pairs."""

    organization_id: int
    operations: Sequence[tuple[int, Operation]]
    received_at: datetime


class Ingestor:
    """Applies operations for one organization; listeners see the stored tracks; traits
    beyond ``limits`` are dropped (see ``attribute_limits``)."""

    def __init__(
        self,
        listeners: Sequence[TrackListener] = (),
        *,
        limits: AttributeLimits | None = None,
        names: OrganizationNames | None = None,
    ) -> None:
        self._listeners = tuple(listeners)
        self._writes = IngestWrites()
        self._limits = limits or AttributeLimits()
        self._names = names or OrganizationNames()

    def apply(
        self,
        conn: Connection,
        *,
        organization_id: int,
        operations: Sequence[tuple[int, Operation]],
        received_at: datetime,
    ) -> list[MessageResult]:
        """Apply ``(index, operation)`` pairs; return one result per pair, in index order.

        On PostgreSQL, requests naming the same userIds are serialised until they
        commit, by advisory locks taken with the messageId claim. Without them, an
        identify and a track for a new userId arriving at the same moment could each
        miss the other's uncommitted row, leaving the event unlinked. SQLite already
        runs one write transaction at a time. userIds share 256 locks (a
        batch never holds more, however many users it names, so PostgreSQL's lock table
        cannot fill up), taken in order, so two requests cannot deadlock on them.
        """
        results: dict[int, MessageResult] = {}
        fresh, preread = self._claim_message_ids(
            conn, organization_id, operations, received_at, results
        )
        tracks: list[StoredTrack] = []
        run = _Run()
        for index, op in fresh:
            if isinstance(op, Delete):
                tracks += self._apply_run(conn, organization_id, run, received_at, results, preread)
                preread = None  # read before the delete
                run = _Run()
                erase_contact(
                    conn, organization_id=organization_id, user_id=op.user_id, now=received_at
                )
                results[index] = MessageResult(index, op.message_id, "accepted")
            else:
                run.items.append((index, op))
        tracks += self._apply_run(conn, organization_id, run, received_at, results, preread)
        # A rejected message changed nothing: its messageId may come again, corrected.
        rejected = [r.message_id for r in results.values() if r.status == "rejected"]
        self._writes.release_message_ids(conn, organization_id, [m for m in rejected if m])
        return [results[i] for i in sorted(results)]

    def apply_requests(
        self, conn: Connection, requests: Sequence[IngestRequest]
    ) -> list[list[MessageResult]]:
        """Apply several requests at once: one pass per organization over all their
        operations, in arrival order, so their rows share statements. They arrived
        within milliseconds of each other; the earliest arrival time is recorded."""
        out: list[list[MessageResult]] = [[] for _ in requests]
        by_org: dict[int, list[int]] = {}
        for position, request in enumerate(requests):
            by_org.setdefault(request.organization_id, []).append(position)
        # Organizations in one order, so that concurrent groups take their locks in one order.
        for organization_id, positions in sorted(by_org.items()):
            merged: list[tuple[int, Operation]] = []
            spans: list[tuple[int, int]] = []
            for position in positions:
                spans.append((position, len(merged)))
                merged += [
                    (len(merged) + i, op) for i, (_, op) in enumerate(requests[position].operations)
                ]
            results = self.apply(
                conn,
                organization_id=organization_id,
                operations=merged,
                received_at=min(requests[p].received_at for p in positions),
            )
            for position, offset in spans:
                out[position] = [
                    _at_index(results[offset + i], index)
                    for i, (index, _) in enumerate(requests[position].operations)
                ]
        return out

    def _claim_message_ids(
        self,
        conn: Connection,
        organization_id: int,
        operations: Sequence[tuple[int, Operation]],
        received_at: datetime,
        results: dict[int, MessageResult],
    ) -> tuple[list[tuple[int, Identify | Track | Delete]], Preread | None]:
        """Record each new ``messageId``; answer replays as duplicates. On PostgreSQL,
        read with it the contacts and event ids of the operations before the first
        delete: they are most often the first run."""
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
            return [], None
        first_users: set[str] = set()
        first_tracks = 0
        for _, op in candidates:
            if isinstance(op, Delete):
                break
            first_users.add(op.user_id)
            first_tracks += isinstance(op, Track)
        claimed, preread = self._writes.claim_message_ids(
            conn,
            organization_id,
            [op.message_id for _, op in candidates],
            received_at,
            lock_users=[op.user_id for _, op in candidates],
            read_first=(first_users, first_tracks) if first_users else None,
        )
        fresh = []
        for index, op in candidates:
            if op.message_id in claimed:
                fresh.append((index, op))
            else:
                results[index] = MessageResult(index, op.message_id, "duplicate")
        return fresh, preread

    def _apply_run(
        self,
        conn: Connection,
        organization_id: int,
        run: _Run,
        received_at: datetime,
        results: dict[int, MessageResult],
        preread: Preread | None = None,
    ) -> list[StoredTrack]:
        """Apply ``run``; ``preread``: its contacts and event ids, if they were read
        (used only when they cover it)."""
        if not run.items:
            return []
        track_items = [(i, op) for i, op in run.items if isinstance(op, Track)]
        users = {op.user_id for _, op in run.items}
        if preread is not None and preread.covers(users, len(track_items)):
            known = {u: preread.contacts[u] for u in users if u in preread.contacts}
            event_ids = preread.event_ids[: len(track_items)]
        else:
            known, event_ids = self._writes.contacts_and_event_ids(
                conn, organization_id, users, len(track_items)
            )
        created: list[str] = []
        #: For each userId created in this run, the index of the identify that created it.
        identified_at: dict[str, int] = {}
        identified: list[tuple[int, Identify]] = []
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
                contact = known[op.user_id] = Contact(None, None, None, None, None)
                created.append(op.user_id)
                identified_at[op.user_id] = index
            merge_identify(contact, op)
            identified.append((index, op))
            results[index] = MessageResult(index, op.message_id, "accepted")
        attributes = self._admitted_attributes(conn, organization_id, identified, known, results)
        ids = write_contacts(
            conn, organization_id, known, created, received_at, self._writes.new_contacts
        )
        self._writes.attributes(conn, organization_id, ids, attributes, received_at)
        if identified:
            self._writes.add_to_segment_list(
                conn, organization_id, {ids[op.user_id] for _, op in identified}, received_at
            )
        if created:
            link_earlier_events(conn, organization_id, {u: ids[u] for u in created})
        stored = self._writes.tracks(
            conn,
            organization_id,
            track_items,
            event_ids,
            ids,
            identified_at,
            received_at,
            self._listeners,
        )
        for (index, op), track in zip(track_items, stored, strict=True):
            reason = None if track.contact_id else "userId not identified yet: event kept, flagged"
            results[index] = MessageResult(index, op.message_id, "accepted", reason)
        return stored

    def _admitted_attributes(
        self,
        conn: Connection,
        organization_id: int,
        identified: list[tuple[int, Identify]],
        known: dict[str, Contact],
        results: dict[int, MessageResult],
    ) -> dict[tuple[str, str], AttributeValue | None]:
        """The attributes to write, by (userId, name), within the limits; an identify
        that loses traits is still accepted, its result saying what was dropped."""
        admitted = admit_attributes(
            conn,
            organization_id=organization_id,
            identifies=identified,
            contact_ids={user: contact.id for user, contact in known.items()},
            limits=self._limits,
            names=self._names,
        )
        attributes: dict[tuple[str, str], AttributeValue | None] = {}
        for index, op in identified:
            kept = admitted.get(index)
            if kept is not None:
                results[index] = MessageResult(index, op.message_id, "accepted", kept.reason)
            for name, value in (op.attributes if kept is None else kept.attributes).items():
                attributes[(op.user_id, name)] = value
        return attributes


def _at_index(result: MessageResult, index: int) -> MessageResult:
    return result if result.index == index else replace(result, index=index)
