"""Readiness: the service answers and its database does too."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.exc import SQLAlchemyError

from promoter import __version__
from promoter.storage.engine import ping
from promoter.web.responses import JSONResponse
from promoter.web.state import ServicesDep
from promoter.web.threads import read

router = APIRouter(tags=["health"])


@router.get("/health", summary="Readiness check")
async def health(services: ServicesDep) -> JSONResponse:
    try:
        await read(services, ping)
    except SQLAlchemyError:
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return JSONResponse({"status": "ok", "version": __version__})
