"""The single-use form nonce of a public link's page, and the survey token it becomes.

A page of ``/l/<key>`` carries a nonce: the link's key, when it was issued and 128 random
bits, signed with the instance's link signer. The survey an answer with that nonce makes
has a token derived from it, so the same form sent twice (a double click, a replayed
request) finds the survey made the first time instead of making another.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Final

from promoter.delivery.tokens import TokenSigner

#: How long a page's form may be sent after it was shown.
NONCE_LIFETIME: Final = timedelta(hours=24)
#: A nonce issued this far ahead of the clock is still taken (another process's clock).
CLOCK_SKEW: Final = timedelta(minutes=5)
#: Characters of a survey token derived from a nonce (as long as a random survey token).
TOKEN_CHARS: Final = 32


def issue_nonce(signer: TokenSigner, *, link_key: str, now: datetime) -> str:
    """A new nonce for a form of the link ``link_key``."""
    return signer.sign(f"{link_key}:{int(now.timestamp())}:{secrets.token_urlsafe(16)}")


def nonce_token(signer: TokenSigner, nonce: str, *, link_key: str, now: datetime) -> str | None:
    """The survey token of a valid nonce of this link, or ``None``: not ours, of another
    link (or of this campaign's link before it was rotated), or too old."""
    if not isinstance(nonce, str):
        return None
    value = signer.unsign(nonce)
    if value is None:
        return None
    key, _, rest = value.partition(":")
    issued_text, _, _ = rest.partition(":")
    if key != link_key or not (issued_text.isascii() and issued_text.isdigit()):
        return None
    if len(issued_text) > 12:
        return None
    age = now - datetime.fromtimestamp(int(issued_text), now.tzinfo)
    if age > NONCE_LIFETIME or age < -CLOCK_SKEW:
        return None
    return derived_token(nonce)


def derived_token(nonce: str) -> str:
    """The survey token a nonce becomes: a hash of the signed nonce, so only whoever holds
    the nonce knows it."""
    digest = hashlib.sha256(b"promoter-link-survey:" + nonce.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:TOKEN_CHARS]
