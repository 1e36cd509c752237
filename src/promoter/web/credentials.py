"""Reading API keys and signatures from requests."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from dataclasses import dataclass

from starlette.types import Scope

from promoter.orgs.keys import hash_key


@dataclass(frozen=True, slots=True)
class Credentials:
    """An API key and its SHA-256, the form every lookup and budget is keyed by."""

    key: str
    digest: str

    @classmethod
    def of(cls, key: str | None) -> Credentials | None:
        return cls(key, hash_key(key)) if key else None


#: Where a request's credentials are kept once read (the ASGI scope's state).
_STATE_KEY = "promoter.credentials"


def request_credentials(scope: Scope) -> Credentials | None:
    """The key in the request's ``Authorization`` header, with its hash: read and hashed
    once per request, however many middlewares and dependencies ask."""
    state = scope.setdefault("state", {})
    if _STATE_KEY not in state:
        header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        state[_STATE_KEY] = _header_credentials(bytes(header)) if header else None
    found: Credentials | None = state[_STATE_KEY]
    return found


#: Authorization headers longer than any key's are decoded every time, not remembered.
_REMEMBERED_HEADER_BYTES = 256


def _header_credentials(header: bytes) -> Credentials | None:
    """The credentials in an ``Authorization`` header; a sender's header comes again with
    each of its requests, so the last few are remembered (decoding and hashing them cost
    more than the rest of reading a message)."""
    if len(header) > _REMEMBERED_HEADER_BYTES:
        return _decode_credentials(header)
    return _remembered_credentials(header)


def _decode_credentials(header: bytes) -> Credentials | None:
    return Credentials.of(key_from_authorization(header.decode("latin-1")))


_remembered_credentials = functools.lru_cache(maxsize=256)(_decode_credentials)


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
