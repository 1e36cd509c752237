"""API key format: ``pk_`` + 32 random URL-safe characters, stored as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "pk_"
#: Characters of a key shown in listings to recognise it (the rest is never shown again).
VISIBLE_CHARS = 10


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(24)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def visible_prefix(key: str) -> str:
    return key[:VISIBLE_CHARS]


def looks_like_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX) and 10 <= len(value) <= 100
