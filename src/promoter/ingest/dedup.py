"""Forgetting processed messageIds once they are past the replay window."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete

from promoter.storage.tables import processed_messages


def prune_processed_messages(conn: Connection, *, older_than: datetime) -> int:
    result = conn.execute(
        delete(processed_messages).where(processed_messages.c.received_at < older_than)
    )
    return int(result.rowcount)
