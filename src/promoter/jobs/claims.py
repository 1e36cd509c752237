"""Claiming due rows of an outbox table with a lease.

An outbox table has ``id``, ``status``, ``due_at``, ``claimed_until`` and ``attempts``
columns. A claim is a lease: the row is hidden from other workers until
``claimed_until``. A worker killed mid-send leaves its leases to expire, and those rows are
taken again: at most what it had in hand, never nothing. On PostgreSQL workers claim with
``FOR UPDATE SKIP LOCKED`` and never take the same row; on SQLite each claim is a write
transaction of its own, so workers take turns.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Table, or_, select, update


def claim_due_ids(
    conn: Connection, table: Table, *, now: datetime, limit: int, lease: timedelta
) -> list[int]:
    """Lease up to ``limit`` pending rows due by ``now`` (oldest due first), counting an
    attempt for each; return their ids in that order."""
    c = table.c
    query = (
        select(c.id)
        .where(
            c.status == "pending",
            c.due_at <= now,
            or_(c.claimed_until.is_(None), c.claimed_until < now),
        )
        .order_by(c.due_at, c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(conn.execute(query).scalars())
    if ids:
        conn.execute(
            update(table)
            .where(c.id.in_(ids))
            .values(claimed_until=now + lease, attempts=c.attempts + 1)
        )
    return ids
