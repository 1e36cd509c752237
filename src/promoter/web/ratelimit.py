"""Request budgets in the web layer: middlewares spending from the token buckets of
:mod:`promoter.ratelimits`, and the answers a throttled request gets.

The REST API is limited by :class:`ApiRateLimit`, a middleware reading the key from the
``Authorization`` header; the Segment endpoints ask :attr:`RateLimits.ingest` once they
know which key authenticated the request. Failed authentication is budgeted per client
address by :class:`FailedAuthLimit`, and so are the survey pages, by
:class:`SurveyPageRateLimit`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from promoter.ratelimits import TokenBuckets
from promoter.web.credentials import request_credentials
from promoter.web.responses import JSONResponse, segment_error

API_PREFIX = "/api/"


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
        found = request_credentials(scope)
        return found.digest if found else None

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
            found = request_credentials(scope)
            if found is None or not self.known_valid(found.digest):
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


#: The pages a survey email links to (survey, comment, thanks; unsubscribe), and the
#: public links' pages.
SURVEY_PREFIXES = ("/s/", "/u/", "/l/")


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
