"""Password hashing (argon2id) behind two functions, so callers never touch parameters."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
MAX_LENGTH = 1024


class WeakPassword(ValueError):
    """The password is refused before it is hashed."""


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"the password must have at most {MAX_LENGTH} characters")
    if "\x00" in password:
        raise WeakPassword("the password must not contain NUL characters")


class Passwords:
    """argon2id with the library's recommended parameters (RFC 9106 low-memory profile)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        check_strength(password)
        return self._hasher.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        if len(password) > MAX_LENGTH:
            return False
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)

    def dummy_verify(self) -> None:
        """Spend the time a real check takes, so an unknown email cannot be told apart."""
        if self._dummy is None:
            self._dummy = self._hasher.hash("promoter-dummy-password")
        self.verify(self._dummy, "not the password")
