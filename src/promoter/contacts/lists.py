"""Contact lists: the organization's Segment list and others."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select

from promoter.storage.tables import contact_lists

SEGMENT_LIST_NAME = "Segment List"


def segment_list_id(conn: Connection, *, organization_id: int) -> int:
    list_id = conn.execute(
        select(contact_lists.c.id).where(
            contact_lists.c.organization_id == organization_id, contact_lists.c.is_segment
        )
    ).scalar()
    if list_id is None:  # an organization made before lists existed, or the list was removed
        list_id = conn.execute(
            insert(contact_lists)
            .values(
                organization_id=organization_id,
                name=SEGMENT_LIST_NAME,
                is_segment=True,
                created_at=datetime.now(UTC),
            )
            .returning(contact_lists.c.id)
        ).scalar_one()
    return int(list_id)
