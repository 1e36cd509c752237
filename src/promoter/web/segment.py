"""The ways Segment data arrives: the destination/webhook endpoint and the Tracking API."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from promoter.domain.errors import UnsupportedType
from promoter.domain.messages import Envelope
from promoter.ingest.payload import (
    MAX_BATCH_BYTES,
    MAX_MESSAGE_BYTES,
    PayloadError,
    destination_messages,
    first_element_text,
    read_body,
    tracking_body,
)
from promoter.ingest.pipeline import (
    DESTINATION_TYPES,
    TRACKING_API_TYPES,
    Parsed,
    apply_parsed,
    apply_parsed_async,
    parse_messages,
)
from promoter.ingest.results import MessageResult
from promoter.orgs.service import Organization
from promoter.services import Services
from promoter.web.credentials import Credentials, request_credentials, signature_matches
from promoter.web.ratelimit import ingest_throttled
from promoter.web.responses import JSONResponse, segment_error
from promoter.web.state import ServicesDep
from promoter.web.threads import in_pool

router = APIRouter(tags=["segment"])
log = logging.getLogger("promoter.ingest")

DESTINATION = "destination"
TRACKING = "tracking"
SINGLE_CALLS = ("identify", "track", "page", "screen", "group", "alias")


def _lookup(
    services: Services, credentials: Credentials | None, known: Organization | None = None
) -> Organization | None:
    if credentials is None:
        return None
    if known is not None:
        return known
    return services.keys.organization(credentials.key, digest=credentials.digest)


@dataclass(frozen=True, slots=True)
class _Ready:
    """A request authenticated and its messages parsed: what is left is applying them."""

    organization_id: int
    way: str
    messages: Sequence[object]
    parsed: Parsed
    received_at: datetime


def _remembered(
    services: Services, credentials: Credentials | None, body: bytes
) -> Organization | None:
    """The organization of a message-sized request whose key was looked up less than
    PROMOTER_KEY_CACHE_SECONDS ago: such a request is checked and parsed on the event loop
    (nothing in it waits), the others in a thread of their own."""
    if credentials is None or len(body) > MAX_MESSAGE_BYTES:
        return None
    return services.keys.remembered(credentials.digest)


async def _answer(
    services: Services,
    check: Callable[[Organization | None], Response | _Ready],
    known: Organization | None,
) -> Response:
    """Run ``check``, apply its messages and answer: on the event loop when the
    organization is ``known`` (the request then waits for the writer there, committed with
    the others waiting), else all in a thread (a batch: decoding it takes a while)."""
    if known is None:
        return await in_pool(services.ingest_threads, _answer_in_thread, services, check)
    outcome = check(known)
    if not isinstance(outcome, _Ready):
        return outcome
    results = await apply_parsed_async(
        database=services.database,
        ingestor=services.ingestor,
        executor=services.ingest_threads,
        organization_id=outcome.organization_id,
        messages=outcome.messages,
        parsed=outcome.parsed,
        received_at=outcome.received_at,
    )
    return _answered(services, outcome, results)


def _answer_in_thread(
    services: Services, check: Callable[[Organization | None], Response | _Ready]
) -> Response:
    outcome = check(None)
    if not isinstance(outcome, _Ready):
        return outcome
    results = apply_parsed(
        database=services.database,
        ingestor=services.ingestor,
        organization_id=outcome.organization_id,
        messages=outcome.messages,
        parsed=outcome.parsed,
        received_at=outcome.received_at,
    )
    return _answered(services, outcome, results)


def _answered(services: Services, outcome: _Ready, results: list[MessageResult]) -> Response:
    """The answer to a request whose messages were applied (shown in the live view)."""
    services.received.record(
        outcome.organization_id,
        way=outcome.way,
        at=outcome.received_at,
        messages=outcome.messages,
        results=results,
    )
    if outcome.way == DESTINATION and results and all(r.status == "rejected" for r in results):
        reason = "; ".join(r.reason or "" for r in results[:5])
        return segment_error(400, reason, "invalid_message")
    return JSONResponse(_summary(results))


def _headers(request: Request, *names: bytes) -> list[str | None]:
    """The values of the headers ``names`` (lower case), ``None`` for those absent: one
    pass over the raw headers (``request.headers.get`` of an absent header raises and
    catches a KeyError inside, a cost every message paid)."""
    found: dict[bytes, str] = {}
    for key, value in request.scope["headers"]:
        if key in names and key not in found:
            found[key] = value.decode("latin-1")
    return [found.get(name) for name in names]


async def _body_or_error(request: Request, limit: int) -> tuple[bytes, PayloadError | None]:
    """The body within ``limit``, or why it cannot be read (answered as a 400)."""
    declared, encoding = _headers(request, b"content-length", b"content-encoding")
    try:
        if (
            declared
            and declared.isascii()
            and declared.isdigit()
            and int(declared) > limit * 4 + 1024
        ):
            raise PayloadError(f"the body exceeds the {limit // 1024} KB limit")
        body = await read_body(request.stream(), limit=limit, content_encoding=encoding)
    except PayloadError as exc:
        return b"", exc
    return body, None


def _bad_request(error: PayloadError, organization_id: int | None = None) -> Response:
    log.warning("organization %s: request refused: %s", organization_id or "?", error)
    return segment_error(400, str(error), "invalid_request")


def _unauthorized() -> Response:
    return segment_error(
        401,
        "invalid or missing API key: send it as Basic auth username (or writeKey)",
        "invalid_api_key",
    )


def _throttled(
    services: Services, credentials: Credentials, organization_id: int, *, way: str, at: datetime
) -> Response | None:
    """429 once the key has spent its ingestion budget (shown in the live view)."""
    buckets = services.rate_limits.ingest
    wait = buckets.take(credentials.digest) if buckets is not None else 0.0
    if not wait:
        return None
    services.received.refused(organization_id, way=way, at=at, reason="rate limit exceeded")
    return ingest_throttled(wait)


# --- Destination and Webhooks endpoint ----------------------------------------------------


@router.post("/segment", summary="Segment destination and Webhooks endpoint")
async def segment_destination(request: Request, services: ServicesDep) -> Response:
    """One Segment message per request (or an array from Segment's Webhooks destination)."""
    received_at = datetime.now(UTC)
    body, error = await _body_or_error(request, MAX_BATCH_BYTES)
    credentials = request_credentials(request.scope)
    check = functools.partial(
        _destination,
        services,
        credentials=credentials,
        signature=_headers(request, b"x-signature")[0],
        body=body,
        body_error=error,
        received_at=received_at,
    )
    return await _answer(services, check, _remembered(services, credentials, body))


def _destination(
    services: Services,
    known: Organization | None,
    *,
    credentials: Credentials | None,
    signature: str | None,
    body: bytes,
    body_error: PayloadError | None,
    received_at: datetime,
) -> Response | _Ready:
    """Authenticate, check and parse a ``/segment`` request: its answer, or what to apply."""
    org = _lookup(services, credentials, known)
    if org is None or credentials is None:
        return _unauthorized()
    throttled = _throttled(services, credentials, org.id, way=DESTINATION, at=received_at)
    if throttled is not None:
        return throttled
    if body_error is not None:
        services.received.refused(org.id, way=DESTINATION, at=received_at, reason=str(body_error))
        return _bad_request(body_error, org.id)
    if org.webhook_secret is not None and not _signed(org.webhook_secret, body, signature):
        services.received.refused(
            org.id, way=DESTINATION, at=received_at, reason="missing or wrong X-Signature"
        )
        return segment_error(401, "missing or wrong X-Signature", "invalid_signature")
    try:
        is_array, messages = destination_messages(body)
    except PayloadError as exc:
        services.received.refused(org.id, way=DESTINATION, at=received_at, reason=str(exc))
        return _bad_request(exc)
    envelope = Envelope(received_at=received_at)
    parsed = parse_messages(messages, envelope, allowed=DESTINATION_TYPES)
    if not is_array and parsed.rejected:
        # One message: reject before touching the database, with the partner contract's code.
        (_, error), payload = parsed.rejected[0], messages[0]
        result = MessageResult(0, None, "rejected", str(error))
        services.received.record(
            org.id, way=DESTINATION, at=received_at, messages=[payload], results=[result]
        )
        log.warning("organization %s: /segment message rejected: %s", org.id, error)
        if isinstance(error, UnsupportedType):
            return segment_error(501, str(error), "unsupported_type")
        return segment_error(400, str(error), "invalid_message")
    return _Ready(org.id, DESTINATION, messages, parsed, received_at)


def _signed(secret: str, body: bytes, signature: str | None) -> bool:
    """``X-Signature`` is the HMAC of the body, or, for a batch of Segment's Webhooks
    (Actions) destination, of its first event: what that destination signs."""
    if signature_matches(secret, body, signature):
        return True
    first = first_element_text(body)
    return first is not None and signature_matches(secret, first, signature)


def _summary(results: list[MessageResult]) -> dict[str, Any]:
    data: dict[str, Any] = {"success": True}
    rejected = [r.to_json() for r in results if r.status == "rejected"]
    if rejected:
        data["rejected"] = rejected
    notes = [r.to_json() for r in results if r.status != "rejected" and r.reason]
    if notes:
        data["notes"] = notes
    data["accepted"] = sum(r.status == "accepted" for r in results)
    data["duplicates"] = sum(r.status == "duplicate" for r in results)
    return data


# --- HTTP Tracking API ---------------------------------------------------------------------


async def _tracking(request: Request, services: ServicesDep, call: str | None) -> Response:
    received_at = datetime.now(UTC)
    body, error = await _body_or_error(request, MAX_MESSAGE_BYTES if call else MAX_BATCH_BYTES)
    if error is not None:
        return _bad_request(error)
    credentials = request_credentials(request.scope)
    check = functools.partial(
        _tracking_call,
        services,
        credentials=credentials,
        body=body,
        call=call,
        received_at=received_at,
    )
    return await _answer(services, check, _remembered(services, credentials, body))


def _tracking_call(
    services: Services,
    known: Organization | None,
    *,
    credentials: Credentials | None,
    body: bytes,
    call: str | None,
    received_at: datetime,
) -> Response | _Ready:
    """Decode, authenticate and parse a Tracking API request: its answer, or what to
    apply."""
    try:
        decoded = tracking_body(body, call, received_at)
    except PayloadError as exc:
        return _bad_request(exc)
    payload, messages, envelope = decoded.payload, decoded.messages, decoded.envelope
    org = _lookup(services, credentials, known)
    write_key = payload.get("writeKey")
    header_key = credentials.key if credentials else None
    if org is None and isinstance(write_key, str) and write_key != header_key:
        credentials = Credentials.of(write_key)
        org = _lookup(services, credentials)
    if org is None or credentials is None:
        return _unauthorized()
    throttled = _throttled(services, credentials, org.id, way=TRACKING, at=received_at)
    if throttled is not None:
        return throttled
    parsed = parse_messages(messages, envelope, allowed=TRACKING_API_TYPES)
    return _Ready(org.id, TRACKING, messages, parsed, envelope.received_at)


@router.post("/v1/batch", summary="Tracking API: a batch of messages")
async def tracking_batch(request: Request, services: ServicesDep) -> Response:
    return await _tracking(request, services, None)


@router.post("/v1/import", summary="Tracking API: legacy import (same as batch)")
async def tracking_import(request: Request, services: ServicesDep) -> Response:
    return await _tracking(request, services, None)


def _single(call: str) -> Any:
    async def endpoint(request: Request, services: ServicesDep) -> Response:
        return await _tracking(request, services, call)

    endpoint.__name__ = f"tracking_{call}"
    return endpoint


Handler = Callable[[Request, Services], Awaitable[Response]]

#: Each endpoint by its path: the routes below, and what answers their POSTs without going
#: through the router (see :mod:`promoter.web.segment_asgi`).
POST_HANDLERS: dict[str, Handler] = {
    "/segment": segment_destination,
    "/v1/batch": tracking_batch,
    "/v1/import": tracking_import,
}
for _call in SINGLE_CALLS:
    POST_HANDLERS[f"/v1/{_call}"] = _single(_call)
    router.add_api_route(
        f"/v1/{_call}",
        POST_HANDLERS[f"/v1/{_call}"],
        methods=["POST"],
        summary=f"Tracking API: {_call}",
    )
