"""REST API under /api/v2/: feedback."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v2", tags=["feedback"])
