"""Error answers: never a bare 500 for bad input; DRF shapes under /api, Segment's elsewhere."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from promoter.storage.errors import DATABASE_UNAVAILABLE, describe, is_unavailable
from promoter.web.responses import JSONResponse, segment_error

log = logging.getLogger("promoter.web")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


#: Paths answered for programs (Segment, SDKs, scripts), never with an HTML page.
_MACHINE_PREFIXES = ("/api/", "/segment", "/v1/", "/health", "/openapi.json")


def _page_error(request: Request, status: int, message: str) -> Response | None:
    """An HTML error page for a browser on a dashboard page, when the app has one."""
    render = getattr(request.app.state, "page_error", None)
    if render is None or request.url.path.startswith(_MACHINE_PREFIXES):
        return None
    if "text/html" not in request.headers.get("accept", ""):
        return None
    page: Response = render(request, status, message)
    return page


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if _is_api(request):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=headers
            )
        page = _page_error(request, exc.status_code, str(exc.detail))
        if page is not None:
            return page
        return segment_error(exc.status_code, str(exc.detail), "http_error", **headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        fields: dict[str, list[str]] = {}
        for error in exc.errors():
            loc = list(error.get("loc", ()))
            if loc and loc[0] in ("query", "path", "body", "header", "cookie"):
                loc = loc[1:]  # where the field was sent, not its name
            location = [str(p) for p in loc]
            fields.setdefault(".".join(location) or "non_field_errors", []).append(error["msg"])
        if _is_api(request):
            return JSONResponse(fields, status_code=400)
        page = _page_error(request, 404, "There is no such page.")
        if page is not None:  # a malformed id in a page's path: nothing to show
            return page
        return segment_error(400, str(fields), "invalid_request")

    async def database_unavailable(request: Request, exc: Exception) -> Response:
        return unavailable_answer(request, exc)

    for error in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error, database_unavailable)

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, exc: ClientDisconnect) -> Response:
        return client_gone_answer(request)


def unavailable_answer(request: Request, exc: Exception) -> Response:
    """The answer to a database error: 503 and ``Retry-After`` when the database is
    unavailable; any other database error is raised again (a bug: a 500, with its
    traceback)."""
    # Connection lost, database locked, disk full, no free connection: the sender should
    # retry later.
    if not is_unavailable(exc):
        raise exc
    log.error("database unavailable on %s: %s", request.url.path, describe(exc))
    message = "the database is unavailable; retry later"
    if _is_api(request):
        return JSONResponse({"detail": message}, status_code=503, headers={"Retry-After": "5"})
    return segment_error(503, message, "unavailable", **{"Retry-After": "5"})


def client_gone_answer(request: Request) -> Response:
    """Nothing was applied and no one is left to answer: one line, no traceback."""
    log.info(
        "client %s left before sending the whole body of %s %s",
        request.client.host if request.client else "?",
        request.method,
        request.url.path,
    )
    return Response(status_code=400)
