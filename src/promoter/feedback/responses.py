"""A response as feedback: whether the organization has it, its tags, stamping it changed.

Every change stamps the response's ``updated_at``, which is how analytics caches see it.
Every function takes the caller's connection; none of them commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from promoter.storage.tables import response_tags, responses


def touch(
    conn: Connection, organization_id: int, response_id: int, now: datetime, **values: object
) -> bool:
    """Stamp the response (and set ``values``); False when the organization has none such."""
    result = conn.execute(
        update(responses)
        .where(responses.c.organization_id == organization_id, responses.c.id == response_id)
        .values(updated_at=now, **values)
    )
    return result.rowcount > 0


def stamp(conn: Connection, *, organization_id: int, response_id: int, now: datetime) -> bool:
    """Mark the response as changed (a note added, say); False when there is none such."""
    return touch(conn, organization_id, response_id, now)


def exists(conn: Connection, *, organization_id: int, response_id: int) -> bool:
    found = conn.execute(
        select(responses.c.id).where(
            responses.c.organization_id == organization_id, responses.c.id == response_id
        )
    ).first()
    return found is not None


def tags_of(conn: Connection, *, response_id: int) -> list[str]:
    return list(
        conn.execute(
            select(response_tags.c.tag)
            .where(response_tags.c.response_id == response_id)
            .order_by(response_tags.c.tag)
        ).scalars()
    )
