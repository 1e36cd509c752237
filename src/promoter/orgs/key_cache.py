"""A short-lived memory of which organization an API key belongs to.

Segment clients send hundreds of requests a second with the same key; looking the
key up once a second instead of on every request keeps the database for the data.
A revoked key (or a changed webhook secret) takes effect within ``ttl`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from promoter.orgs.keys import hash_key
from promoter.orgs.service import KeyHolder, Organization

DEFAULT_TTL_SECONDS = 1.0
MAX_ENTRIES = 10_000


class KeyCache:
    def __init__(
        self,
        lookup: Callable[[str], KeyHolder | None],
        *,
        ttl: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, KeyHolder | None]] = {}
        self._lock = threading.Lock()

    def organization(self, key: str, *, digest: str | None = None) -> Organization | None:
        """The organization of an active ``key``, or ``None``; at most ``ttl`` seconds old.
        ``digest``, the key's hash when the caller has it already, saves hashing again."""
        holder = self.holder(key, digest=digest)
        return None if holder is None else holder.organization

    def holder(self, key: str, *, digest: str | None = None) -> KeyHolder | None:
        """The organization of an active ``key`` and the key's role, or ``None``; at most
        ``ttl`` seconds old."""
        digest = digest or hash_key(key)
        now = self._clock()
        entry = self._entries.get(digest)
        if entry is not None and entry[0] > now:
            return entry[1]
        holder = self._lookup(key)
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest] = (now + self._ttl, holder)
        return holder

    def remembered(self, digest: str) -> Organization | None:
        """The organization of the active key of this hash, if looked up less than ``ttl``
        seconds ago; ``None`` otherwise (not remembered, expired, or not a valid key).
        Never asks the database: for callers that must not wait."""
        entry = self._entries.get(digest)
        if entry is None or entry[1] is None or entry[0] <= self._clock():
            return None
        return entry[1].organization

    def known_valid(self, digest: str) -> bool:
        """True when the key of this hash was found active at its last lookup, however long
        ago (within what is remembered): a hint, never authentication."""
        entry = self._entries.get(digest)
        return entry is not None and entry[1] is not None

    def forget_organization(self, organization_id: int) -> None:
        """Drop what is remembered of the organization's keys (after a key is revoked or
        its webhook secret changes): this process sees the change at once, other
        processes within ``ttl`` seconds."""
        with self._lock:
            stale = [
                digest
                for digest, (_, holder) in self._entries.items()
                if holder is not None and holder.organization.id == organization_id
            ]
            for digest in stale:
                del self._entries[digest]
