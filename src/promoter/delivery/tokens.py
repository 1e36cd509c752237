"""Survey links carry the survey's random token plus a signature of it.

The token alone is unguessable (192 random bits); the signature lets a tampered or
made-up link be refused before any database lookup.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SIGNATURE_CHARS = 22  # 132 bits of HMAC-SHA256


class TokenSigner:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"promoter-survey-link:" + secret.encode()).digest()

    def _signature(self, token: str) -> str:
        digest = hmac.new(self._key, token.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:SIGNATURE_CHARS]

    def sign(self, token: str) -> str:
        return f"{token}.{self._signature(token)}"

    def unsign(self, value: str) -> str | None:
        """The token of a signed value, or ``None`` if it was not signed by us."""
        token, dot, signature = value.rpartition(".")
        if not dot or not token or len(value) > 200:
            return None
        expected = self._signature(token).encode()
        if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
            return None
        return token
