"""Signing webhook requests, and checking a signature as a receiver does.

Every request carries ``Promoter-Signature: t=<unix time>,v1=<hex>`` where the hex is
HMAC-SHA256, keyed with the subscription's secret, of ``f"{t}.{raw body}"``. A receiver
recomputes it over the body exactly as received and refuses a timestamp too far from its
own clock (a replayed request). This module has no dependency on the rest of Promoter:
a receiver written in Python may copy it.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Promoter-Signature"
EVENT_ID_HEADER = "Promoter-Event-Id"
EVENT_HEADER = "Promoter-Event"
#: Seconds a signature's timestamp may be away from the receiver's clock.
DEFAULT_TOLERANCE = 300
#: More than this many signatures in one header is not a header we wrote.
_MAX_SIGNATURES = 8


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}.{body}"``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int, *also: str) -> str:
    """The ``Promoter-Signature`` header's value: one ``v1`` per secret (``also``: the
    previous secret, for a while after a rotation)."""
    signatures = ",".join(f"v1={signature(s, body, timestamp)}" for s in (secret, *also))
    return f"t={timestamp},{signatures}"


def verify_signature(
    secret: str,
    header: str | None,
    body: bytes | str,
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> bool:
    """Whether ``header`` (a ``Promoter-Signature`` value) signs ``body`` with ``secret``,
    at a time within ``tolerance`` seconds of ``now`` (default: this machine's clock).

    ``body`` is the raw request body, before any JSON parsing. Any ``v1`` entry may match
    (a header may carry several); the comparison takes constant time.
    """
    if not header or len(header) > 2000:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value.strip().lower())
    if timestamp is None or not candidates or len(candidates) > _MAX_SIGNATURES:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    raw = body.encode("utf-8") if isinstance(body, str) else body
    expected = signature(secret, raw, timestamp).encode("ascii")
    matched = False
    for candidate in candidates:
        # Every candidate is compared, so the time taken does not tell which one matched.
        matched |= hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
    return matched
