"""The last messages each organization sent, with what became of them.

Kept in memory by the process that received them (the newest few hundred per
organization), for the dashboard's live view of the Segment connection. It is a
window for people setting Segment up, not a record: the stored effects are.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from promoter.ingest.results import MessageResult

#: Messages kept per organization.
KEEP = 200
MAX_TEXT = 200


class Received(NamedTuple):
    """One message as the live view shows it (a tuple: hundreds are made per request)."""

    at: datetime
    #: "destination" (POST /segment) or "tracking" (the /v1 Tracking API).
    way: str
    type: str
    #: The event name of a track, else empty.
    event: str
    user_id: str
    message_id: str
    status: str
    reason: str


def _text(value: object) -> str:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)[:MAX_TEXT]
    return ""


def _summary(message: object) -> tuple[str, str, str]:
    if not isinstance(message, dict):
        return "", "", ""
    kind = _text(message.get("type") or message.get("action"))
    event = _text(message.get("event")) if kind == "track" else ""
    user = _text(message.get("userId") or message.get("user_id") or message.get("anonymousId"))
    return kind, event, user


class ReceivedLog:
    """Thread-safe; bounded to ``keep`` messages per organization and ``organizations``
    organizations (the least recently active are forgotten first)."""

    def __init__(self, keep: int = KEEP, organizations: int = 10_000) -> None:
        self._keep = keep
        self._max_orgs = organizations
        self._logs: dict[int, deque[Received]] = {}
        self._lock = threading.Lock()

    def record(
        self,
        organization_id: int,
        *,
        way: str,
        at: datetime,
        messages: Sequence[object],
        results: Sequence[MessageResult],
    ) -> None:
        entries = []
        for result in results[-self._keep :]:  # older ones would be dropped at once
            message = messages[result.index] if result.index < len(messages) else None
            kind, event, user = _summary(message)
            entries.append(
                Received(
                    at=at,
                    way=way,
                    type=kind,
                    event=event,
                    user_id=user,
                    message_id=(result.message_id or "")[:MAX_TEXT],
                    status=result.status,
                    reason=(result.reason or "")[:500],
                )
            )
        self._append(organization_id, entries)

    def refused(self, organization_id: int, *, way: str, at: datetime, reason: str) -> None:
        """A whole request refused (unreadable body, bad signature, too large...)."""
        self._append(
            organization_id,
            [Received(at, way, "", "", "", "", "rejected", reason[:500])],
        )

    def _append(self, organization_id: int, entries: list[Received]) -> None:
        if not entries:
            return
        with self._lock:
            log = self._logs.pop(organization_id, None)
            if log is None:
                log = deque(maxlen=self._keep)
                if len(self._logs) >= self._max_orgs:
                    del self._logs[next(iter(self._logs))]
            log.extend(entries)
            self._logs[organization_id] = log  # most recently active last

    def latest(self, organization_id: int, limit: int = 50) -> list[Received]:
        """Newest first."""
        with self._lock:
            log = self._logs.get(organization_id)
            items = list(log) if log else []
        return items[::-1][:limit]
