"""Request budgets per API key: a token bucket for each key, in memory, in each process.

A key may send ``burst`` requests at once and ``per_second`` a second on average after
that. Buckets are kept under the key's hash, never the key. A bucket that has filled up
again is the same as no bucket, so idle ones are forgotten: memory holds the keys used in
the last ``burst / per_second`` seconds, and never more than ``max_keys`` of them.

The REST API is limited by :class:`ApiRateLimit`, a middleware reading the key from the
``Authorization`` header; the Segment endpoints ask :attr:`RateLimits.ingest` once they
know which key authenticated the request. Failed authentication is budgeted per client
address by :class:`FailedAuthLimit`, and so are the survey pages, by
:class:`SurveyPageRateLimit`.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from promoter.config import RateLimit, Settings, parse_rate_limit
from promoter.orgs.keys import hash_key
from promoter.web.credentials import key_from_authorization
from promoter.web.responses import JSONResponse, segment_error

#: The most keys remembered at once; past it the least recently seen are forgotten.
MAX_KEYS = 10_000
API_PREFIX = "/api/"


def refill(tokens: float, elapsed: float, limit: RateLimit) -> float:
    """The tokens of a bucket ``elapsed`` seconds after it held ``tokens``."""
    return min(limit.burst, tokens + max(elapsed, 0.0) * limit.per_second)


def spend(tokens: float, limit: RateLimit) -> tuple[float, float]:
    """Take one token: the tokens left and 0.0, or, when there is no whole token, the
    tokens unchanged and the seconds until there is one."""
    if tokens >= 1.0:
        return tokens - 1.0, 0.0
    return tokens, (1.0 - tokens) / limit.per_second


class TokenBuckets:
    """One token bucket per key hash; safe to share between threads."""

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._max_keys = max_keys
        #: key hash -> (tokens, when they were counted), least recently used first.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key_hash: str) -> float:
        """Spend one request of the key: 0.0 when allowed, else the seconds to wait."""
        with self._lock:
            now = self._clock()
            state = self._buckets.pop(key_hash, None)
            self._forget_idle(now)
            tokens = (
                self.limit.burst if state is None else refill(state[0], now - state[1], self.limit)
            )
            tokens, wait = spend(tokens, self.limit)
            self._buckets[key_hash] = (tokens, now)
            return wait

    def wait(self, key_hash: str) -> float:
        """The seconds until the key has a whole token again (0.0: it has one), spending
        nothing."""
        with self._lock:
            state = self._buckets.get(key_hash)
            if state is None:
                return 0.0
            tokens = refill(state[0], self._clock() - state[1], self.limit)
            return spend(tokens, self.limit)[1]

    def __len__(self) -> int:
        return len(self._buckets)

    def _forget_idle(self, now: float) -> None:
        """Drop the buckets full again, then the least recently used over ``max_keys``."""
        buckets = self._buckets
        while buckets:
            tokens, counted = next(iter(buckets.values()))
            if refill(tokens, now - counted, self.limit) < self.limit.burst:
                break
            buckets.popitem(last=False)
        while len(buckets) >= self._max_keys:
            buckets.popitem(last=False)


@dataclass(frozen=True)
class RateLimits:
    """The budgets of the REST API and of ingestion; ``None`` is no limit."""

    api: TokenBuckets | None = None
    ingest: TokenBuckets | None = None
    failed_auth: TokenBuckets | None = None
    survey_pages: TokenBuckets | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Callable[[], float] = time.monotonic
    ) -> RateLimits:
        def buckets(text: str) -> TokenBuckets | None:
            limit = parse_rate_limit(text)
            return TokenBuckets(limit, clock=clock) if limit else None

        return cls(
            api=buckets(settings.rate_limit_api),
            ingest=buckets(settings.rate_limit_ingest),
            failed_auth=buckets(settings.rate_limit_failed_auth),
            survey_pages=buckets(settings.rate_limit_survey_pages),
        )


def retry_after(wait: float) -> int:
    """Whole seconds to wait, at least one."""
    return max(1, math.ceil(wait))


def api_throttled(wait: float) -> JSONResponse:
    """Django REST Framework's answer to a throttled request."""
    seconds = retry_after(wait)
    unit = "second" if seconds == 1 else "seconds"
    return JSONResponse(
        {"detail": f"Request was throttled. Expected available in {seconds} {unit}."},
        status_code=429,
        headers={"Retry-After": str(seconds)},
    )


def ingest_throttled(wait: float) -> JSONResponse:
    """The answer Segment and its libraries retry later."""
    seconds = retry_after(wait)
    return segment_error(
        429,
        f"too many requests with this write key; retry in {seconds} s",
        "rate_limited",
        **{"Retry-After": str(seconds)},
    )


def _authorization(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bytes(value).decode("latin-1")
    return None


class PathRateLimit:
    """ASGI middleware: requests under ``prefixes`` spend from the bucket ``bucket_key``
    names (none: not counted); over budget they get ``throttled(wait)`` before anything
    else runs."""

    prefixes: tuple[str, ...] = ()

    def __init__(self, app: ASGIApp, *, buckets: TokenBuckets | None) -> None:
        self.app = app
        self.buckets = buckets

    def bucket_key(self, scope: Scope) -> str | None:
        raise NotImplementedError

    def throttled(self, wait: float) -> Response:
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.buckets is not None
            and scope["type"] == "http"
            and scope["path"].startswith(self.prefixes)
        ):
            bucket = self.bucket_key(scope)
            wait = self.buckets.take(bucket) if bucket is not None else 0.0
            if wait > 0:
                await self.throttled(wait)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class ApiRateLimit(PathRateLimit):
    """Requests under /api/ that carry a key spend from its bucket. Requests without a key
    pass (they are refused as unauthenticated)."""

    prefixes = (API_PREFIX,)

    def bucket_key(self, scope: Scope) -> str | None:
        key = key_from_authorization(_authorization(scope))
        return hash_key(key) if key else None

    def throttled(self, wait: float) -> Response:
        return api_throttled(wait)


#: The paths that authenticate with an API key.
KEY_PREFIXES = (API_PREFIX, "/segment", "/v1/")


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class FailedAuthLimit:
    """ASGI middleware: each 401 on a keyed path spends from the client address's bucket.
    A client over budget is answered 429 before its key is looked up, unless its key is
    one this process has recently seen valid (so that one sender's wrong key, from an
    address many senders share, does not hold up the others)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        buckets: TokenBuckets | None,
        known_valid: Callable[[str], bool],
    ) -> None:
        self.app = app
        self.buckets = buckets
        self.known_valid = known_valid

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        buckets = self.buckets
        if buckets is None or scope["type"] != "http" or not scope["path"].startswith(KEY_PREFIXES):
            await self.app(scope, receive, send)
            return
        client = _client(scope)
        wait = buckets.wait(client)
        if wait > 0:
            key = key_from_authorization(_authorization(scope))
            if key is None or not self.known_valid(key):
                answer = (
                    api_throttled(wait)
                    if scope["path"].startswith(API_PREFIX)
                    else ingest_throttled(wait)
                )
                await answer(scope, receive, send)
                return

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                buckets.take(client)
            await send(message)

        await self.app(scope, receive, counting)


#: The pages a survey email links to (survey, comment, thanks; unsubscribe).
SURVEY_PREFIXES = ("/s/", "/u/")


def survey_pages_throttled(wait: float) -> HTMLResponse:
    """A page a person may see: what happened and when to try again."""
    seconds = retry_after(wait)
    html = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Too many requests</title></head><body><main><h1>Too many requests</h1>"
        f"<p>Please try again in {seconds} second{'s' if seconds != 1 else ''}.</p>"
        "</main></body></html>"
    )
    headers = {
        "Retry-After": str(seconds),
        "Cache-Control": "no-store",
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff",
    }
    return HTMLResponse(html, status_code=429, headers=headers)


class SurveyPageRateLimit(PathRateLimit):
    """Each request for a survey page spends from the client address's bucket."""

    prefixes = SURVEY_PREFIXES

    def bucket_key(self, scope: Scope) -> str | None:
        return _client(scope)

    def throttled(self, wait: float) -> Response:
        return survey_pages_throttled(wait)
