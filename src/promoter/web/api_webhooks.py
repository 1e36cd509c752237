"""REST API under /api/v2/: webhooks."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v2", tags=["webhooks"])
