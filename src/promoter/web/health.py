"""Readiness: the service answers and its database does too."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from promoter import __version__
from promoter.web.responses import JSONResponse
from promoter.web.state import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/health", summary="Readiness check")
async def health(services: ServicesDep) -> JSONResponse:
    def ping() -> None:
        with services.database.read() as conn:
            conn.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(ping)
    except SQLAlchemyError:
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return JSONResponse({"status": "ok", "version": __version__})
