"""REST API under /api/v2/: lists."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v2", tags=["lists"])
