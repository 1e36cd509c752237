"""The hook through which other parts of Promoter react to stored track events.

Listeners run inside the ingestion transaction, so whatever they write (a
scheduled survey, say) commits or rolls back with the event itself.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    def on_tracks(self, conn: Connection, tracks: Sequence[StoredTrack]) -> None:
        """Called with the tracks stored by one pass of the ingestor (one request, or
        several that shared a group commit), all of one organization, in message order."""
