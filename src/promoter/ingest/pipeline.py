"""From a request's messages to stored effects: parse each, apply the valid ones at once."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from promoter.domain.errors import InvalidMessage
from promoter.domain.messages import Envelope, Operation, parse_message
from promoter.ingest.results import MessageResult
from promoter.ingest.service import Ingestor, IngestRequest
from promoter.storage.engine import Database

log = logging.getLogger("promoter.ingest")

#: What each way in accepts; page/screen/group/alias are valid but unused on the Tracking API.
TRACKING_API_TYPES = frozenset({"identify", "track", "delete", "page", "screen", "group", "alias"})
DESTINATION_TYPES = frozenset({"identify", "track", "delete"})


def ingest_messages(
    *,
    database: Database,
    ingestor: Ingestor,
    organization_id: int,
    messages: Sequence[object],
    envelope: Envelope,
    allowed: frozenset[str],
) -> list[MessageResult]:
    """Parse and apply ``messages``; returns once the effects are committed."""
    operations: list[tuple[int, Operation]] = []
    rejected: list[MessageResult] = []
    for index, message in enumerate(messages):
        try:
            operations.append((index, parse_message(message, envelope, allowed=allowed)))
        except InvalidMessage as exc:
            rejected.append(MessageResult(index, None, "rejected", str(exc)))
    applied: list[MessageResult] = []
    if operations:
        request = IngestRequest(organization_id, operations, envelope.received_at)
        applied = database.run_many(request, ingestor.apply_requests)
    # Report the sender's own messageId, not one made up for a message that had none.
    results = [
        _as_sent(r, _sent_message_id(messages[r.index]))
        for r in sorted(applied + rejected, key=lambda r: r.index)
    ]
    for result in results:
        if result.status == "rejected":
            log.warning(
                "organization %s: message %s (%s) rejected: %s",
                organization_id,
                result.index,
                result.message_id,
                result.reason,
            )
    return results


def _sent_message_id(message: object) -> str | None:
    value = message.get("messageId") if isinstance(message, dict) else None
    if type(value) is str and 0 < len(value) <= 100:  # the usual case, checked first
        return value
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        return None
    return str(value)[:100]


def _as_sent(result: MessageResult, message_id: str | None) -> MessageResult:
    return result if result.message_id == message_id else replace(result, message_id=message_id)
