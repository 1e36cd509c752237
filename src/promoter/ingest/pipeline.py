"""From a request's messages to stored effects: parse each, apply the valid ones at once."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import datetime

from promoter.domain.errors import InvalidMessage
from promoter.domain.messages import Envelope, Operation, parse_message, sent_message_id
from promoter.ingest.results import MessageResult
from promoter.ingest.service import Ingestor, IngestRequest
from promoter.storage.engine import Database

log = logging.getLogger("promoter.ingest")

#: What each way in accepts; page/screen/group/alias are valid but unused on the Tracking API.
TRACKING_API_TYPES = frozenset({"identify", "track", "delete", "page", "screen", "group", "alias"})
DESTINATION_TYPES = frozenset({"identify", "track", "delete"})


@dataclass(frozen=True, slots=True)
class Parsed:
    """A request's messages, parsed: what can be applied, and why the rest cannot."""

    operations: list[tuple[int, Operation]]
    rejected: list[tuple[int, InvalidMessage]]


def parse_messages(
    messages: Sequence[object], envelope: Envelope, *, allowed: frozenset[str]
) -> Parsed:
    operations: list[tuple[int, Operation]] = []
    rejected: list[tuple[int, InvalidMessage]] = []
    for index, message in enumerate(messages):
        try:
            operations.append((index, parse_message(message, envelope, allowed=allowed)))
        except InvalidMessage as exc:
            rejected.append((index, exc))
    return Parsed(operations, rejected)


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
    parsed = parse_messages(messages, envelope, allowed=allowed)
    return apply_parsed(
        database=database,
        ingestor=ingestor,
        organization_id=organization_id,
        messages=messages,
        parsed=parsed,
        received_at=envelope.received_at,
    )


def apply_parsed(
    *,
    database: Database,
    ingestor: Ingestor,
    organization_id: int,
    messages: Sequence[object],
    parsed: Parsed,
    received_at: datetime,
) -> list[MessageResult]:
    """Apply what ``parse_messages`` made of ``messages``; returns once committed."""
    applied: list[MessageResult] = []
    if parsed.operations:
        request = IngestRequest(organization_id, parsed.operations, received_at)
        applied = database.run_many(request, ingestor.apply_requests)
    return _results(organization_id, messages, parsed, applied)


async def apply_parsed_async(
    *,
    database: Database,
    ingestor: Ingestor,
    executor: Executor,
    organization_id: int,
    messages: Sequence[object],
    parsed: Parsed,
    received_at: datetime,
) -> list[MessageResult]:
    """:func:`apply_parsed` for a coroutine: the request waits on the event loop while
    a thread of ``executor`` commits it with the others waiting
    (:meth:`~promoter.storage.engine.Database.run_many_async`)."""
    applied: list[MessageResult] = []
    if parsed.operations:
        request = IngestRequest(organization_id, parsed.operations, received_at)
        applied = await database.run_many_async(request, ingestor.apply_requests, executor)
    return _results(organization_id, messages, parsed, applied)


def _results(
    organization_id: int,
    messages: Sequence[object],
    parsed: Parsed,
    applied: list[MessageResult],
) -> list[MessageResult]:
    """Every message's result, in the request's order; the rejected ones logged."""
    rejected = [MessageResult(index, None, "rejected", str(exc)) for index, exc in parsed.rejected]
    # Report the sender's own messageId, not one made up for a message that had none.
    results = [
        _as_sent(r, sent_message_id(messages[r.index]))
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


def _as_sent(result: MessageResult, message_id: str | None) -> MessageResult:
    return result if result.message_id == message_id else replace(result, message_id=message_id)
