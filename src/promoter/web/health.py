"""Readiness: the service answers and its database does too (see
:mod:`promoter.web.readiness` for how often the database is asked)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from promoter import __version__
from promoter.web.readiness import Readiness
from promoter.web.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/health", summary="Readiness check")
async def health(request: Request) -> JSONResponse:
    readiness = request.app.state.readiness
    assert isinstance(readiness, Readiness)
    if not await readiness.ready():
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return JSONResponse({"status": "ok", "version": __version__})
