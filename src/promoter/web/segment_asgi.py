"""The Segment endpoints' POSTs answered straight from the ASGI call.

Segment and its libraries send one message per request, hundreds a second. Their
handlers need nothing of FastAPI's machinery: no path parameters, no dependencies but the
services, no role (they authenticate by write key, see ``web/access.py``), no middleware
but the failed-authentication budget. Through the app's stack (its error and body-limit
layers, the v1 paths, the rate-limit middlewares, the router, the dependency resolution)
a message cost more CPU than the rest of the request outside the database, so
:class:`PromoterApp` hands a POST to these exact paths to :class:`SegmentIngress` before
that stack. The ingress gives the answers the stack would give: a 429 to a client over
its failed-authentication budget, a 503 when the database is unavailable, a 400 when the
client left, a 500 (logged, and raised to the server) for anything else. The routes stay
declared, for the OpenAPI document and for any other method. FastAPI's own
OpenTelemetry hooks do not see these requests.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from promoter.services import Services
from promoter.storage.errors import DATABASE_UNAVAILABLE
from promoter.web.errors import client_gone_answer, unavailable_answer
from promoter.web.ratelimit import FailedAuthBudget
from promoter.web.segment import POST_HANDLERS, Handler


class SegmentIngress:
    """Answers a POST to one of Segment's paths with its handler."""

    def __init__(self, services: Services, *, failed_auth: FailedAuthBudget) -> None:
        self.services = services
        self.failed_auth = failed_auth

    @staticmethod
    def handler(scope: Scope) -> Handler | None:
        """The handler of an HTTP POST to a Segment path, else ``None``."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        return POST_HANDLERS.get(scope["path"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send, handler: Handler) -> None:
        refusal = self.failed_auth.refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            try:
                response = await handler(request, self.services)
            except ClientDisconnect:
                response = client_gone_answer(request)
            except DATABASE_UNAVAILABLE as exc:
                response = unavailable_answer(request, exc)
        except Exception:
            # What Starlette's ServerErrorMiddleware does: a 500 (nothing was sent yet),
            # and the exception raised on, for the server to log with its traceback.
            await _server_error(scope, receive, send)
            raise
        if response.status_code == 401:
            self.failed_auth.failed(scope)
        await response(scope, receive, send)


async def _server_error(scope: Scope, receive: Receive, send: Send) -> None:
    answer: Response = PlainTextResponse("Internal Server Error", status_code=500)
    await answer(scope, receive, send)


class PromoterApp(FastAPI):
    """FastAPI, with Segment's POSTs answered by ``ingress`` before the middleware stack."""

    ingress: SegmentIngress | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ingress = self.ingress
        handler = ingress.handler(scope) if ingress is not None else None
        if ingress is None or handler is None:
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        await ingress(scope, receive, send, handler)
