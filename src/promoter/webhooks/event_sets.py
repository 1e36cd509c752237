"""The events each webhook receives: checked, stored (one row per event), read back.

Every function takes the caller's connection; none of them commits.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Final

from sqlalchemy import Connection, delete, insert, select

from promoter.storage.tables import webhook_subscription_events
from promoter.webhooks.events import EVENTS

EMPTY: Final = "Choose at least one event."
#: Unknown names reported, at most.
MAX_SHOWN: Final = 10


def check_events(given: Iterable[str]) -> tuple[tuple[str, ...], list[str]]:
    """The events in the order ``EVENTS`` lists them (each once), and what is wrong with
    the ones given (an unknown name, none at all)."""
    names = list(given)
    unknown = list(dict.fromkeys(name for name in names if name not in EVENTS))
    problems = [f'"{name[:100]}" is not a valid choice.' for name in unknown[:MAX_SHOWN]]
    if not names:
        problems.append(EMPTY)
    return tuple(event for event in EVENTS if event in names), problems


def events_of(conn: Connection, subscription_ids: Collection[int]) -> dict[int, tuple[str, ...]]:
    """Each subscription's events, in the order ``EVENTS`` lists them."""
    if not subscription_ids:
        return {}
    found: dict[int, set[str]] = {}
    rows = conn.execute(
        select(
            webhook_subscription_events.c.subscription_id, webhook_subscription_events.c.event
        ).where(webhook_subscription_events.c.subscription_id.in_(subscription_ids))
    )
    for row in rows:
        found.setdefault(row.subscription_id, set()).add(row.event)
    return {
        subscription_id: tuple(e for e in EVENTS if e in found.get(subscription_id, ()))
        for subscription_id in subscription_ids
    }


def set_events(
    conn: Connection, *, organization_id: int, subscription_id: int, events: Collection[str]
) -> None:
    """Make ``events`` (already checked) the subscription's events."""
    conn.execute(
        delete(webhook_subscription_events).where(
            webhook_subscription_events.c.subscription_id == subscription_id
        )
    )
    conn.execute(
        insert(webhook_subscription_events),
        [
            {"subscription_id": subscription_id, "event": event, "organization_id": organization_id}
            for event in events
        ],
    )
