"""The Segment source's outbox: due messages are claimed with a lease, sent in batches,
and their outcome recorded in one transaction per round. The rows are the delivery log.

A claim hides a message from other senders until ``claimed_until``
(:mod:`promoter.jobs.claims`); a sender killed mid-send leaves its leases to expire and
those messages are sent again, with the same ``messageId``. A failed attempt is tried
again after 30 seconds, 1, 2, 4 ... minutes (at most 15 minutes apart, ±20% jitter), or
when the host's ``Retry-After`` says, until 72 hours after the fact; then the message
fails. A refusal that retrying cannot help (4xx other than 429, a refused address, a
message over Segment's size limit) fails it at once.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, func, select, update

from promoter.jobs.claims import claim_due_ids
from promoter.jobs.retry import RetryPolicy
from promoter.storage.tables import segment_messages, segment_sources

RETRY = RetryPolicy(
    first=timedelta(seconds=30), cap=timedelta(minutes=15), give_up_after=timedelta(hours=72)
)
#: The longest wait a ``Retry-After`` may ask for.
MOST_RETRY_AFTER = timedelta(hours=1)
#: Finished messages are kept this long in the log, then deleted.
LOG_RETENTION = timedelta(days=30)
MAX_ERROR = 1000
DISABLED_ERROR = "the Segment source is disabled or was removed"


@dataclass(frozen=True, slots=True)
class Claimed:
    """A message in hand, with where it goes."""

    row_id: int
    organization_id: int
    message: dict[str, Any]
    attempts: int
    created_at: datetime
    host: str
    write_key: str


@dataclass(frozen=True, slots=True)
class Outcome:
    item: Claimed
    status_code: int | None = None
    error: str | None = None
    #: Trying again cannot help: the message fails now.
    permanent: bool = False
    #: When the host asked to be tried again (``Retry-After``).
    retry_at: datetime | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def claim_due(conn: Connection, *, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
    """Claim up to ``limit`` due messages (oldest due first); those of an organization
    whose source is disabled or removed fail instead."""
    ids = claim_due_ids(conn, segment_messages, now=now, limit=limit, lease=lease)
    if not ids:
        return []
    m, s = segment_messages.c, segment_sources.c
    rows = conn.execute(
        select(m.id, m.organization_id, m.message, m.attempts, m.created_at, s.host, s.write_key)
        .select_from(segment_messages)
        .outerjoin(
            segment_sources,
            and_(s.organization_id == m.organization_id, s.enabled.is_(True)),
        )
        .where(m.id.in_(ids))
        .order_by(m.due_at, m.id)
    ).all()
    stale = [row.id for row in rows if row.host is None]
    if stale:
        conn.execute(
            update(segment_messages)
            .where(m.id.in_(stale))
            .values(status="failed", claimed_until=None, last_error=DISABLED_ERROR)
        )
    return [
        Claimed(
            row_id=row.id,
            organization_id=row.organization_id,
            message=dict(row.message),
            attempts=row.attempts,
            created_at=row.created_at,
            host=row.host,
            write_key=row.write_key,
        )
        for row in rows
        if row.host is not None
    ]


def record(
    conn: Connection, outcomes: Sequence[Outcome], *, now: datetime, rng: random.Random
) -> None:
    """Record each message's outcome: delivered, due again, or failed."""
    c = segment_messages.c
    for outcome in outcomes:
        item = outcome.item
        last = {
            "last_status_code": outcome.status_code,
            "last_error": outcome.error[:MAX_ERROR] if outcome.error else None,
            "claimed_until": None,
        }
        pending = and_(c.id == item.row_id, c.status == "pending")
        if outcome.succeeded:
            values: dict[str, Any] = {"status": "delivered", "delivered_at": now, **last}
        elif outcome.permanent:
            values = {"status": "failed", **last}
        else:
            due = RETRY.next_attempt(item.attempts, created_at=item.created_at, now=now, rng=rng)
            if outcome.retry_at is not None:
                due = min(outcome.retry_at, now + MOST_RETRY_AFTER)
                if due > item.created_at + (RETRY.give_up_after or MOST_RETRY_AFTER):
                    due = None
            values = {"status": "failed", **last} if due is None else {"due_at": due, **last}
        conn.execute(update(segment_messages).where(pending).values(**values))


@dataclass(frozen=True, slots=True)
class LoggedMessage:
    """One message as the delivery log shows it."""

    id: int
    message_id: str
    kind: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    due_at: datetime
    delivered_at: datetime | None
    message: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "message_id": self.message_id,
            "kind": self.kind,
            "status": self.status,
            "attempts": self.attempts,
            "last_status_code": self.last_status_code,
            "last_error": self.last_error,
            "created_at": self.created_at,
            "next_attempt_at": self.due_at if self.status == "pending" else None,
            "delivered_at": self.delivered_at,
            "message": self.message,
        }


def list_messages(
    conn: Connection,
    *,
    organization_id: int,
    status: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[int, list[LoggedMessage]]:
    """The organization's messages, newest first, and how many there are."""
    c = segment_messages.c
    where = [c.organization_id == organization_id]
    if status is not None:
        where.append(c.status == status)
    total = conn.execute(select(func.count()).select_from(segment_messages).where(*where))
    rows = conn.execute(
        select(segment_messages)
        .where(*where)
        .order_by(c.created_at.desc(), c.id.desc())
        .offset(offset)
        .limit(limit)
    )
    found = [
        LoggedMessage(
            id=row.id,
            message_id=row.message_id,
            kind=row.kind,
            status=row.status,
            attempts=row.attempts,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            created_at=row.created_at,
            due_at=row.due_at,
            delivered_at=row.delivered_at,
            message=dict(row.message),
        )
        for row in rows
    ]
    return int(total.scalar_one()), found


def prune(conn: Connection, *, older_than: datetime, limit: int = 1000) -> int:
    """Delete up to ``limit`` finished messages due before ``older_than``; return how many."""
    c = segment_messages.c
    ids = list(
        conn.execute(
            select(c.id)
            .where(c.status.in_(("delivered", "failed")), c.due_at < older_than)
            .limit(limit)
        ).scalars()
    )
    if not ids:
        return 0
    return conn.execute(delete(segment_messages).where(c.id.in_(ids))).rowcount
