"""What the database holds of an organization's messages, for the durability checks."""

from __future__ import annotations

from sqlalchemy import func, select

from promoter.storage.engine import Database
from promoter.storage.tables import events, processed_messages
from tests.conftest import Org


def stored(database: Database, org: Org) -> tuple[set[str], dict[str, int]]:
    """The processed messageIds, and the number of events of each messageId."""
    with database.read() as conn:
        processed = set(
            conn.execute(
                select(processed_messages.c.message_id).where(
                    processed_messages.c.organization_id == org.id
                )
            ).scalars()
        )
        per_message = {
            row.message_id: row.n
            for row in conn.execute(
                select(events.c.message_id, func.count().label("n"))
                .where(events.c.organization_id == org.id)
                .group_by(events.c.message_id)
            )
        }
    return processed, per_message
