"""Request bodies of the Segment endpoints: size limits, gzip, JSON, batches.

Limits are those of Segment's HTTP Tracking API: 32 KB a message, 500 KB a
batch request, 2,500 messages a batch. A message may nest objects and arrays
100 levels deep: what is stored must still be written out, nested inside API
responses, by orjson, which stops at 254 levels.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from promoter.domain.errors import InvalidMessage
from promoter.domain.messages import Envelope
from promoter.domain.timestamps import parse_timestamp

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_MESSAGES = 2500
#: Levels of objects and arrays in a message, the message itself being the first.
MAX_DEPTH = 100
#: The levels orjson writes; those beyond MAX_DEPTH are left for the responses that
#: show stored values (``{"results": [{"attributes": {...}}]}``).
_ORJSON_DEPTH = 254


class PayloadError(InvalidMessage):
    """The request as a whole is unacceptable (400)."""


async def read_body(
    chunks: AsyncIterator[bytes], *, limit: int, content_encoding: str | None
) -> bytes:
    """The request body, decompressed, refused as soon as it passes ``limit`` bytes."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding not in {"identity", "gzip", "x-gzip"}:
        raise PayloadError(f"unsupported Content-Encoding {encoding!r}: send identity or gzip")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding != "identity" else None
    body = bytearray()
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > limit * 4 + 1024:  # compressed bodies beyond any sane ratio
            raise _too_large(limit)
        if inflater is None:
            body += chunk
        else:
            try:
                body += inflater.decompress(chunk, limit + 1 - len(body))
            except zlib.error:
                raise PayloadError("the body is not valid gzip") from None
            if inflater.unconsumed_tail:
                raise _too_large(limit)
        if len(body) > limit:
            raise _too_large(limit)
    if inflater is not None and not inflater.eof:
        raise PayloadError("the gzip body is truncated")
    return bytes(body)


class BodyTooLarge(PayloadError):
    """The body passed the limit (413 where the caller tells it apart)."""


def _too_large(limit: int) -> PayloadError:
    return BodyTooLarge(f"the body exceeds the {limit // 1024} KB limit")


def parse_json(body: bytes) -> Any:
    """The decoded body, with NUL characters (``\\u0000``) removed from every string:
    PostgreSQL cannot store them in text."""
    if not body.strip():
        raise PayloadError("the body is empty: send a JSON object")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(_decode_error(body, exc)) from None
    if b"\\u0000" in body:
        value = _without_nul(value)
    return value


def _decode_error(body: bytes, error: orjson.JSONDecodeError) -> str:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the body is not valid UTF-8: byte {exc.start} cannot be decoded"
    return f"the body is not valid JSON: {error}"


def _without_nul(value: Any) -> Any:
    """A copy of a decoded JSON document with NUL characters removed from strings and keys."""

    def clean(item: Any) -> Any:
        if isinstance(item, str):
            return item.replace("\x00", "")
        if isinstance(item, dict):
            copy: dict[str, Any] = {}
            for key, child in item.items():
                copy[key.replace("\x00", "")] = child
                pending.append((copy, key.replace("\x00", "")))
            return copy
        if isinstance(item, list):
            items = list(item)
            pending.extend((items, i) for i in range(len(items)))
            return items
        return item

    # Iterative, so that deeply nested documents cannot exhaust the stack.
    pending: list[tuple[Any, Any]] = []
    root = clean(value)
    while pending:
        container, key = pending.pop()
        container[key] = clean(container[key])
    return root


def check_message_size(message: object, index: int | None = None) -> None:
    """Refuse a message over 32 KB, or nested more than MAX_DEPTH levels deep."""
    where = "a message" if index is None else f"message {index}"
    too_deep = PayloadError(
        f"{where} is nested too deeply: at most {MAX_DEPTH} levels of objects and arrays"
    )
    try:
        encoded = orjson.dumps(message)
    except orjson.JSONEncodeError:
        raise too_deep from None
    size = len(encoded)
    if size > MAX_MESSAGE_BYTES:
        raise PayloadError(f"{where} is {size} bytes; the limit is 32 KB")
    # Deeper than MAX_DEPTH takes more than MAX_DEPTH brackets (those inside strings only
    # make this count larger): most messages are decided here, without a second encoding.
    if encoded.count(b"{") + encoded.count(b"[") > MAX_DEPTH and _too_deep(message):
        raise too_deep


def _too_deep(message: object) -> bool:
    """Inside this many arrays, orjson refuses exactly the messages deeper than MAX_DEPTH."""
    wrapped = message
    for _ in range(_ORJSON_DEPTH - MAX_DEPTH):
        wrapped = [wrapped]
    try:
        orjson.dumps(wrapped)
    except orjson.JSONEncodeError:
        return True
    return False


def batch_messages(body: dict[str, Any]) -> list[Any]:
    """The ``batch`` list of a ``/v1/batch`` or ``/v1/import`` body, checked against limits."""
    batch = body.get("batch")
    if not isinstance(batch, list):
        raise PayloadError("a batch body needs a `batch` array of messages")
    if len(batch) > MAX_BATCH_MESSAGES:
        raise PayloadError(f"a batch holds at most {MAX_BATCH_MESSAGES} messages, not {len(batch)}")
    for index, message in enumerate(batch):
        check_message_size(message, index)
    return batch


def optional_timestamp(body: dict[str, Any], name: str) -> datetime | None:
    """A batch-level date-time such as ``sentAt``: absent, or ISO 8601."""
    value = body.get(name)
    if value is None:
        return None
    parsed = parse_timestamp(value)
    if parsed is None:
        raise PayloadError(f"`{name}` is not an ISO-8601 date-time: {str(value)[:40]!r}")
    return parsed


def optional_object(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PayloadError(f"`{name}` must be an object")
    return value


@dataclass(frozen=True, slots=True)
class TrackingBody:
    """A Tracking API request body, decoded and checked against Segment's limits."""

    payload: dict[str, Any]
    messages: list[Any]
    envelope: Envelope


def tracking_body(body: bytes, call: str | None, received_at: datetime) -> TrackingBody:
    """The messages of ``/v1/<call>`` (one) or of ``/v1/batch`` (``call`` None), with
    the batch's ``context``, ``integrations`` and ``sentAt``; ``PayloadError`` says why not."""
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise PayloadError("the body must be a JSON object")
    if call is None:
        messages = batch_messages(payload)
    else:
        check_message_size(payload)
        messages = [{**payload, "type": call}]
    envelope = Envelope(
        received_at=received_at,
        context=optional_object(payload, "context") if call is None else None,
        integrations=optional_object(payload, "integrations") if call is None else None,
        sent_at=optional_timestamp(payload, "sentAt") if call is None else None,
        correct_clock=True,
    )
    return TrackingBody(payload, messages, envelope)


def destination_messages(body: bytes) -> tuple[bool, list[Any]]:
    """The messages of a ``/segment`` body: (whether it was an array, the messages)."""
    payload = parse_json(body)
    messages = payload if isinstance(payload, list) else [payload]
    if len(messages) > MAX_BATCH_MESSAGES:
        raise PayloadError(f"at most {MAX_BATCH_MESSAGES} messages a request")
    for index, message in enumerate(messages):
        check_message_size(message, index if isinstance(payload, list) else None)
    return isinstance(payload, list), messages


def first_element_text(body: bytes) -> bytes | None:
    """The bytes of the first element of a JSON array body, exactly as they appear in it;
    None when the body is not an array with an element. Segment's Webhooks (Actions)
    destination signs a batch with the first event's JSON, which is this text."""
    text = body.lstrip()
    if not text.startswith(b"["):
        return None
    try:
        decoded = text.decode("utf-8")
        start = len(decoded) - len(decoded[1:].lstrip())
        _, end = json.JSONDecoder().raw_decode(decoded, start)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return decoded[start:end].encode("utf-8")
