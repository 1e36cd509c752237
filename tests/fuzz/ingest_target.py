"""Coverage-guided fuzzing of everything between a request body and the database.

Run by tests/fuzz/test_atheris.py (or by hand: ``python tests/fuzz/ingest_target.py
CORPUS_DIR -runs=100000``). Each input is a raw body: its first byte picks the way in
(the Tracking API's single calls and batch, the destination endpoint) and whether it is
gzip-compressed, the rest is the body. The body goes through the same functions the
endpoints use: reading (gzip, size limits), decoding, Segment's limits, and the parsing
of every message into the operation that would be written. The only outcome allowed
besides success is ``InvalidMessage`` (which the endpoints answer with a 4xx); anything
else is a crash that libFuzzer reports with the input that caused it.
"""

from __future__ import annotations

import contextlib
import sys
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import atheris

with atheris.instrument_imports(include=["promoter"]):
    from promoter.domain.errors import InvalidMessage
    from promoter.domain.messages import Envelope, parse_message
    from promoter.ingest.payload import (
        MAX_BATCH_BYTES,
        MAX_MESSAGE_BYTES,
        destination_messages,
        read_body,
        tracking_body,
    )
    from promoter.ingest.pipeline import DESTINATION_TYPES, TRACKING_API_TYPES

RECEIVED_AT = datetime(2026, 3, 1, 12, tzinfo=UTC)
#: The way in chosen by the first byte: a single call, a batch, or /segment.
WAYS = ("identify", "track", "page", "delete", None, "destination")


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 4096):
        yield data[start : start + 4096]


def _read(data: bytes, *, limit: int, gzip: bool) -> bytes:
    """``read_body`` run to completion (it awaits nothing but the chunks)."""
    coroutine = read_body(_chunks(data), limit=limit, content_encoding="gzip" if gzip else None)
    try:
        coroutine.send(None)
    except StopIteration as done:
        return bytes(done.value)
    raise AssertionError("read_body waited for something other than its chunks")


def one_input(data: bytes) -> None:
    if not data:
        return
    selector, raw = data[0], data[1:]
    way = WAYS[selector % len(WAYS)]
    gzip = bool(selector & 0x80)
    if gzip:
        packer = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
        raw = packer.compress(raw) + packer.flush()
    limit = MAX_BATCH_BYTES if way in (None, "destination") else MAX_MESSAGE_BYTES
    try:
        body = _read(raw, limit=limit, gzip=gzip)
        if way == "destination":
            _, messages = destination_messages(body)
            envelope = Envelope(received_at=RECEIVED_AT)
            allowed = DESTINATION_TYPES
        else:
            decoded = tracking_body(body, way, RECEIVED_AT)
            messages, envelope, allowed = decoded.messages, decoded.envelope, TRACKING_API_TYPES
    except InvalidMessage:
        return
    for message in messages:
        with contextlib.suppress(InvalidMessage):
            parse_message(message, envelope, allowed=allowed)


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
