"""The Segment endpoints' POSTs answered straight from the ASGI call.

Segment and its libraries send one message per request, hundreds a second. Their
handlers need nothing of FastAPI's routing: no path parameters, no dependencies but the
services, no role (they authenticate by write key, see ``web/access.py``). Going through
the router, the dependency resolution and the exception middleware cost more CPU than the
rest of the request outside the database, so :class:`SegmentEndpoints`, placed inside the
rate-limit middlewares, hands a POST to these exact paths to its handler directly, and
gives the answers the app's error handlers would give (a 503 when the database is
unavailable, a 400 when the client left). The routes stay declared, for the OpenAPI
document and for any other method.
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from promoter.services import Services
from promoter.storage.errors import DATABASE_UNAVAILABLE
from promoter.web.errors import client_gone_answer, unavailable_answer
from promoter.web.segment import POST_HANDLERS


class SegmentEndpoints:
    def __init__(self, app: ASGIApp, *, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = (
            POST_HANDLERS.get(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        if handler is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            response = await handler(request, self.services)
        except ClientDisconnect:
            response = client_gone_answer(request)
        except DATABASE_UNAVAILABLE as exc:
            response = unavailable_answer(request, exc)
        await response(scope, receive, send)
