"""A short-lived memory of the web survey settings each site key names.

Every page view of a customer's app makes a call with the site key; looking it up once a
second instead of on every call keeps the database for the data. A change (origins,
enabled, a rotated secret or site key) takes effect within ``ttl`` seconds, at once in the
process that made it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from promoter.websurveys.settings import WebSurveySettings

MAX_ENTRIES = 10_000


class SiteCache:
    def __init__(
        self,
        lookup: Callable[[str], WebSurveySettings | None],
        *,
        ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, WebSurveySettings | None]] = {}
        self._lock = threading.Lock()

    def site(self, site_key: str) -> WebSurveySettings | None:
        """The settings ``site_key`` names, or ``None``; at most ``ttl`` seconds old."""
        now = self._clock()
        entry = self._entries.get(site_key)
        if entry is not None and entry[0] > now:
            return entry[1]
        found = self._lookup(site_key)
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[site_key] = (now + self._ttl, found)
        return found

    def forget_organization(self, organization_id: int) -> None:
        """Drop what is remembered of the organization's site (after its settings
        change), and of unknown keys (a rotated key may be one of them)."""
        with self._lock:
            stale = [
                key
                for key, (_, found) in self._entries.items()
                if found is None or found.organization_id == organization_id
            ]
            for key in stale:
                del self._entries[key]
