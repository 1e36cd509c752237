"""Identity verification: the customer's server signs a visitor's userId with the
organization's identity secret (HMAC-SHA256, lowercase hex), and Promoter checks it."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Final

#: A signature is the 64 hex digits of an HMAC-SHA256.
SIGNATURE_LENGTH: Final = 64
HEX_DIGITS: Final = frozenset("0123456789abcdef")


def sign_user(secret: str, user_id: str) -> str:
    """The signature of ``user_id`` under ``secret`` (both as UTF-8), in lowercase hex."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verify_user(secrets: str | Iterable[str], user_id: str, signature: str) -> bool:
    """Whether ``signature`` is ``user_id``'s under one of ``secrets`` (the current one and,
    during its grace period, the previous one). Upper-case hex is accepted; every secret
    is compared in constant time."""
    if isinstance(secrets, str):
        secrets = (secrets,)
    if not isinstance(user_id, str) or not user_id or not isinstance(signature, str):
        return False
    given = signature.strip().lower()
    if len(given) != SIGNATURE_LENGTH or not set(given) <= HEX_DIGITS:
        return False
    try:
        message = user_id.encode()
    except UnicodeEncodeError:
        return False
    matched = False
    for secret in secrets:
        if not secret:
            continue
        expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
        matched |= hmac.compare_digest(expected, given)
    return matched
