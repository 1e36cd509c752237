"""The ways Segment data arrives: the destination/webhook endpoint and the Tracking API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from promoter.domain.errors import InvalidMessage, UnsupportedType
from promoter.domain.messages import Envelope, parse_message
from promoter.domain.timestamps import parse_timestamp
from promoter.ingest.payload import (
    MAX_BATCH_BYTES,
    MAX_MESSAGE_BYTES,
    PayloadError,
    batch_messages,
    check_message_size,
    optional_object,
    parse_json,
    read_body,
)
from promoter.ingest.pipeline import DESTINATION_TYPES, TRACKING_API_TYPES, ingest_messages
from promoter.ingest.results import MessageResult
from promoter.orgs.service import Organization, authenticate
from promoter.services import Services
from promoter.web.credentials import key_from_authorization, signature_matches
from promoter.web.responses import JSONResponse, segment_error
from promoter.web.state import ServicesDep

router = APIRouter(tags=["segment"])

SINGLE_CALLS = ("identify", "track", "page", "screen", "group", "alias")


def _lookup(services: Services, key: str | None) -> Organization | None:
    if not key:
        return None
    with services.database.read() as conn:
        return authenticate(conn, key=key)


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit * 4 + 1024:
        raise PayloadError(f"the body exceeds the {limit // 1024} KB limit")
    return await read_body(
        request.stream(), limit=limit, content_encoding=request.headers.get("content-encoding")
    )


def _unauthorized() -> Response:
    return segment_error(
        401,
        "invalid or missing API key: send it as Basic auth username (or writeKey)",
        "invalid_api_key",
    )


# --- Destination and Webhooks endpoint ----------------------------------------------------


@router.post("/segment", summary="Segment destination and Webhooks endpoint")
async def segment_destination(request: Request, services: ServicesDep) -> Response:
    """One Segment message per request (or an array from Segment's Webhooks destination)."""
    received_at = datetime.now(UTC)
    key = key_from_authorization(request.headers.get("authorization"))
    org = await run_in_threadpool(_lookup, services, key)
    if org is None:
        return _unauthorized()
    try:
        body = await _body(request, MAX_BATCH_BYTES)
    except PayloadError as exc:
        return segment_error(400, str(exc), "invalid_request")
    if org.webhook_secret is not None and not signature_matches(
        org.webhook_secret, body, request.headers.get("x-signature")
    ):
        return segment_error(401, "missing or wrong X-Signature", "invalid_signature")
    try:
        payload = parse_json(body)
        messages = payload if isinstance(payload, list) else [payload]
        for index, message in enumerate(messages):
            check_message_size(message, index if isinstance(payload, list) else None)
    except PayloadError as exc:
        return segment_error(400, str(exc), "invalid_request")
    envelope = Envelope(received_at=received_at)
    if not isinstance(payload, list):
        # One message: reject before touching the database, with the partner contract's code.
        try:
            parse_message(payload, envelope, allowed=DESTINATION_TYPES)
        except UnsupportedType as exc:
            return segment_error(501, str(exc), "unsupported_type")
        except InvalidMessage as exc:
            return segment_error(400, str(exc), "invalid_message")
    results = await run_in_threadpool(
        ingest_messages,
        database=services.database,
        ingestor=services.ingestor,
        organization_id=org.id,
        messages=messages,
        envelope=envelope,
        allowed=DESTINATION_TYPES,
    )
    if all(r.status == "rejected" for r in results) and results:
        reason = "; ".join(r.reason or "" for r in results[:5])
        return segment_error(400, reason, "invalid_message")
    return JSONResponse(_summary(results))


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
    limit = MAX_MESSAGE_BYTES if call else MAX_BATCH_BYTES
    try:
        body = await _body(request, limit)
        payload = parse_json(body)
        if not isinstance(payload, dict):
            raise PayloadError("the body must be a JSON object")
        if call is None:
            messages = batch_messages(payload)
        else:
            check_message_size(payload)
            messages = [{**payload, "type": call}]
        sent_at = parse_timestamp(payload.get("sentAt")) if call is None else None
        envelope = Envelope(
            received_at=received_at,
            context=optional_object(payload, "context") if call is None else None,
            integrations=optional_object(payload, "integrations") if call is None else None,
            sent_at=sent_at,
            correct_clock=True,
        )
    except PayloadError as exc:
        return segment_error(400, str(exc), "invalid_request")
    key = key_from_authorization(request.headers.get("authorization"))
    write_key = payload.get("writeKey")
    org = await run_in_threadpool(_lookup, services, key)
    if org is None and isinstance(write_key, str):
        org = await run_in_threadpool(_lookup, services, write_key)
    if org is None:
        return _unauthorized()
    results = await run_in_threadpool(
        ingest_messages,
        database=services.database,
        ingestor=services.ingestor,
        organization_id=org.id,
        messages=messages,
        envelope=envelope,
        allowed=TRACKING_API_TYPES,
    )
    return JSONResponse(_summary(results))


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


for _call in SINGLE_CALLS:
    router.add_api_route(
        f"/v1/{_call}", _single(_call), methods=["POST"], summary=f"Tracking API: {_call}"
    )
