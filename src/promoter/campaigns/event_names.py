"""The track event names an organization sends, suggested as a campaign's triggers.

Read through the events' ``(organization_id, name, timestamp)`` index only, with bounded
work whatever the number of events: the distinct names are walked one index seek at a
time (at most :data:`MAX_NAMES`), and each name's recent events are counted up to
:data:`COUNT_CAP`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import Connection, func, select

from promoter.storage.tables import events

#: Distinct names looked at (in name order), and suggested (the most frequent).
MAX_NAMES: Final = 100
MAX_SUGGESTIONS: Final = 30
#: Recent events counted per name: beyond it, names are "frequent" alike.
COUNT_CAP: Final = 1000
RECENT: Final = timedelta(days=30)


def _names(conn: Connection, organization_id: int) -> list[str]:
    """Up to ``MAX_NAMES`` distinct event names, each found by one seek past the last."""
    found: list[str] = []
    mine = events.c.organization_id == organization_id
    while len(found) < MAX_NAMES:
        query = select(events.c.name).where(mine)
        if found:
            query = query.where(events.c.name > found[-1])
        name = conn.execute(query.order_by(events.c.name).limit(1)).scalar()
        if name is None:
            break
        found.append(name)
    return found


def _recent_count(conn: Connection, organization_id: int, name: str, since: datetime) -> int:
    recent = (
        select(events.c.timestamp)
        .where(
            events.c.organization_id == organization_id,
            events.c.name == name,
            events.c.timestamp >= since,
        )
        .limit(COUNT_CAP)
        .subquery()
    )
    return int(conn.execute(select(func.count()).select_from(recent)).scalar_one())


def suggested_event_names(conn: Connection, *, organization_id: int, now: datetime) -> list[str]:
    """The organization's event names, the most frequent in the last 30 days first (then
    by name); at most ``MAX_SUGGESTIONS``."""
    since = now - RECENT
    counted = [
        (_recent_count(conn, organization_id, name, since), name)
        for name in _names(conn, organization_id)
    ]
    counted.sort(key=lambda pair: (-pair[0], pair[1]))
    return [name for _, name in counted[:MAX_SUGGESTIONS]]
