"""Reading API keys and signatures from requests."""

from __future__ import annotations

import base64
import hashlib
import hmac


def key_from_authorization(header: str | None) -> str | None:
    """The key in ``Basic base64(key:)``, ``Token key`` or ``Bearer key``; else ``None``."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    scheme = scheme.lower()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except ValueError:  # not base64 (binascii.Error), not ASCII, or not UTF-8
            return None
        user, _, _password = decoded.partition(":")
        return user or None
    if scheme in {"token", "bearer"}:
        return value or None
    return None


def signature_matches(secret: str, body: bytes, signature: str | None) -> bool:
    """Segment Webhooks' ``X-Signature``: hex HMAC-SHA1 of the raw body.

    Compared in constant time.
    """
    if not signature:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest().encode()
    given = signature.strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(expected, given)
