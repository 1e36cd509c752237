"""Secrets a dashboard page shows once, after the form that made them has redirected.

A new API key or signing secret is made by a POST; the browser is then sent to the page
(303, Post/Redirect/Get) which shows it. Between the two it is kept here, in this
process's memory, under the session cookie's digest and the page's path: never in a URL,
never in the database, and taken (forgotten) by the first page that shows it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from typing import Any

from fastapi import Request

from promoter.web.dashboard.session import COOKIE

#: Seconds a secret waits for its page: the redirect follows at once.
KEEP_SECONDS = 300.0
#: Secrets waiting at most, the oldest forgotten first.
MAX_WAITING = 10_000


class ShownOnce:
    """Thread-safe; what a page is to show next, by session and page."""

    def __init__(self, *, keep_seconds: float = KEEP_SECONDS, limit: int = MAX_WAITING) -> None:
        self._keep = keep_seconds
        self._limit = limit
        self._waiting: OrderedDict[tuple[str, str], tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, session_token: str, page: str, context: dict[str, Any]) -> None:
        """Keep ``context`` for the next view of ``page`` in this session (replacing any)."""
        key = (_digest(session_token), page)
        with self._lock:
            self._forget_expired()
            self._waiting.pop(key, None)
            self._waiting[key] = (time.monotonic() + self._keep, context)
            while len(self._waiting) > self._limit:
                self._waiting.popitem(last=False)

    def take(self, session_token: str, page: str) -> dict[str, Any]:
        """What was kept for ``page`` in this session, once; else an empty dict."""
        with self._lock:
            found = self._waiting.pop((_digest(session_token), page), None)
        if found is None or found[0] <= time.monotonic():
            return {}
        return found[1]

    def _forget_expired(self) -> None:
        now = time.monotonic()
        while self._waiting:
            key, (expires, _) = next(iter(self._waiting.items()))
            if expires > now:
                break
            del self._waiting[key]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _store(request: Request) -> ShownOnce:
    store: ShownOnce = request.app.state.shown_once
    return store


def keep_for_page(request: Request, page: str, context: dict[str, Any]) -> None:
    """Show ``context`` on the next view of ``page`` by this session (then forget it)."""
    _store(request).put(request.cookies.get(COOKIE, ""), page, context)


def take_for_page(request: Request, page: str) -> dict[str, Any]:
    """What a redirecting form left for this view of ``page``, once."""
    return _store(request).take(request.cookies.get(COOKIE, ""), page)
