"""Emitting events: one outbox row per subscription, written in the caller's transaction.

An event is recorded only if the transaction that caused it commits (a rolled-back answer
sends nothing), and the sender delivers it afterwards, at least once. When nothing
subscribes to the event, emitting it costs one indexed query and builds no payload.

This module depends on the tables alone, so that any service can emit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

import orjson
from sqlalchemy import Connection, Select, insert, select

from promoter.storage.tables import (
    webhook_deliveries,
    webhook_subscription_events,
    webhook_subscriptions,
)

FEEDBACK_ADDED_OR_CHANGED: Final = "feedback.added_or_changed"
FEEDBACK_TAGS_ADDED_OR_CHANGED: Final = "feedback.tags_added_or_changed"
FEEDBACK_STATUS_CHANGED: Final = "feedback.status_changed"
FEEDBACK_REMOVED: Final = "feedback.removed"
METRIC_SCORE_CHANGED: Final = "metric.score_changed"
CONTACT_UNSUBSCRIBED: Final = "contact.unsubscribed"
SURVEY_SENT: Final = "survey.sent"
SURVEY_BOUNCED: Final = "survey.bounced"
#: The NPS of the organization, a campaign or a saved segment moved beyond chance.
NPS_CHANGED: Final = "nps.changed"
#: Sent to one subscription on request (``POST /api/v2/webhooks/{id}/test/``); never emitted.
PING: Final = "ping"

#: The events a subscription may name, in the order the docs and forms list them.
EVENTS: Final = (
    FEEDBACK_ADDED_OR_CHANGED,
    FEEDBACK_TAGS_ADDED_OR_CHANGED,
    FEEDBACK_STATUS_CHANGED,
    FEEDBACK_REMOVED,
    METRIC_SCORE_CHANGED,
    CONTACT_UNSUBSCRIBED,
    SURVEY_SENT,
    SURVEY_BOUNCED,
    NPS_CHANGED,
)

Data = Mapping[str, Any]


def new_event_id() -> str:
    return uuid.uuid4().hex


def envelope(
    *, event_id: str, event: str, organization_id: int, data: Data, now: datetime
) -> dict[str, Any]:
    """The JSON body of a ``json`` subscription's request (and what every delivery keeps).

    Normalised through JSON here, so that what is stored, signed and sent is the same on
    both databases (datetimes become ISO 8601 strings, as the REST API writes them).
    """
    document = {
        "id": event_id,
        "event": event,
        "created_at": now,
        "organization_id": organization_id,
        "data": data,
    }
    text = orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS)
    normalised: dict[str, Any] = orjson.loads(text)
    return normalised


def emit(
    conn: Connection,
    *,
    organization_id: int,
    event: str,
    data: Data | Callable[[], Data],
    campaign_id: int | None = None,
    now: datetime,
) -> str | None:
    """Queue ``event`` for every active subscription of the organization to it.

    A subscription limited to a campaign receives only events about that campaign (so
    not events without one). ``data`` may be a function: it is called, once, only when
    some subscription wants the event. Returns the event's id, or ``None`` when nothing
    subscribes to it. Nothing is committed here: the caller's transaction decides.
    """
    subscriptions = conn.execute(_active(organization_id, event)).all()
    targets = [
        row.id for row in subscriptions if row.campaign_id is None or row.campaign_id == campaign_id
    ]
    if not targets:
        return None
    event_id = new_event_id()
    payload = envelope(
        event_id=event_id,
        event=event,
        organization_id=organization_id,
        data=data() if callable(data) else data,
        now=now,
    )
    conn.execute(
        insert(webhook_deliveries),
        [
            {
                "organization_id": organization_id,
                "subscription_id": subscription_id,
                "event_id": event_id,
                "event": event,
                "payload": payload,
                "status": "pending",
                "due_at": now,
                "created_at": now,
            }
            for subscription_id in targets
        ],
    )
    return event_id


def subscribed(conn: Connection, *, organization_id: int, event: str) -> bool:
    """Whether an active subscription of the organization wants ``event`` (one indexed
    lookup): the test to pass before preparing data that needs more queries."""
    found = conn.execute(_active(organization_id, event).limit(1)).first()
    return found is not None


def _active(organization_id: int, event: str) -> Select[tuple[int, int | None]]:
    """The active subscriptions of the organization to ``event`` (id, campaign), found
    through the ``(organization_id, event)`` index of their events."""
    wanted = webhook_subscription_events.c
    return (
        select(webhook_subscriptions.c.id, webhook_subscriptions.c.campaign_id)
        .join(webhook_subscriptions, webhook_subscriptions.c.id == wanted.subscription_id)
        .where(
            wanted.organization_id == organization_id,
            wanted.event == event,
            webhook_subscriptions.c.status == "active",
        )
    )
