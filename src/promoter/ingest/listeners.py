"""The hook through which other parts of Promoter react to track events.

Listeners run inside the ingestion transaction, just before the events are inserted
(their ids are already final), so whatever they write (a scheduled survey, say)
commits or rolls back with the event itself. A listener may return a short note per
event id; it is stored on the event row (``events.trigger_note``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection


@dataclass(frozen=True, slots=True)
class StoredTrack:
    event_id: int
    organization_id: int
    #: ``None`` when the userId was never identified (the event is stored, flagged).
    contact_id: int | None
    user_id: str
    name: str
    properties: dict[str, Any]
    timestamp: datetime
    timezone: str | None


class TrackListener(Protocol):
    def on_tracks(
        self, conn: Connection, tracks: Sequence[StoredTrack]
    ) -> Mapping[int, str] | None:
        """Called with the tracks stored by one pass of the ingestor (one request, or
        several that shared a group commit), all of one organization, in message order."""
