"""Request budgets in the web layer: middlewares spending from the token buckets of
:mod:`promoter.ratelimits`, and the answers a throttled request gets.

The REST API is limited by :class:`ApiRateLimit`, a middleware reading the key from the
``Authorization`` header; the Segment endpoints ask :attr:`RateLimits.ingest` once they
know which key authenticated the request. Failed authentication is budgeted per client
address by :class:`FailedAuthBudget`, and so are the survey pages, by
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


class FailedAuthBudget:
    """Each 401 on a keyed path spends from the client address's bucket. A client over
    budget is answered 429 before its key is looked up, unless its key is one this process
    has recently seen valid (so that one sender's wrong key, from an address many senders
    share, does not hold up the others)."""

    def __init__(self, buckets: TokenBuckets | None, *, known_valid: Callable[[str], bool]) -> None:
        self.buckets = buckets
        self.known_valid = known_valid

    def refusal(self, scope: Scope) -> Response | None:
        """The 429 for a request from a client over budget, else ``None``."""
        if self.buckets is None:
            return None
        wait = self.buckets.wait(_client(scope))
        if wait <= 0:
            return None
        found = request_credentials(scope)
        if found is not None and self.known_valid(found.digest):
            return None
        if scope["path"].startswith(API_PREFIX):
            return api_throttled(wait)
        return ingest_throttled(wait)

    def failed(self, scope: Scope) -> None:
        """Count a 401 answered to the request's client."""
        if self.buckets is not None:
            self.buckets.take(_client(scope))


class FailedAuthLimit:
    """ASGI middleware: :class:`FailedAuthBudget` on the paths that authenticate with a key
    (Segment's POSTs are answered before it, and ask the budget themselves: see
    :mod:`promoter.web.segment_asgi`)."""

    def __init__(self, app: ASGIApp, *, budget: FailedAuthBudget) -> None:
        self.app = app
        self.budget = budget

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        budget = self.budget
        if (
            budget.buckets is None
            or scope["type"] != "http"
            or not scope["path"].startswith(KEY_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        answer = budget.refusal(scope)
        if answer is not None:
            await answer(scope, receive, send)
            return

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                budget.failed(scope)
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
