"""Events as Segment's pipeline hands them to a destination (Webhooks, Functions)."""

from __future__ import annotations

from typing import Any


def segment_event(kind: str, user_id: str, message_id: str, **fields: Any) -> dict[str, Any]:
    """One event of ``kind`` with the fields Segment adds; ``fields`` adds or replaces."""
    return {
        "anonymousId": None,
        "channel": "server",
        "context": {"library": {"name": "analytics-node-next", "version": "latest"}},
        "integrations": {},
        "messageId": message_id,
        "originalTimestamp": "2026-03-01T12:00:00.000Z",
        "receivedAt": "2026-03-01T12:00:00.410Z",
        "sentAt": "2026-03-01T12:00:00.300Z",
        "timestamp": "2026-03-01T12:00:00.110Z",
        "type": kind,
        "userId": user_id,
        "version": 2,
        **fields,
    }
