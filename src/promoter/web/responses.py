"""JSON responses rendered with orjson."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def segment_error(status: int, message: str, code: str, **headers: str) -> JSONResponse:
    """An error in the shape Segment's clients and debugger read: ``{"code", "message"}``."""
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)
