"""The filter builder's value suggestions as the user types: an attribute's values that
contain the text typed, most frequent first, as JSON for the value field's datalist."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from promoter.analytics.suggest import frequent_values
from promoter.domain.attributes import MAX_NAME_LENGTH
from promoter.web import threads
from promoter.web.dashboard.session import SessionDep
from promoter.web.responses import JSONResponse
from promoter.web.state import ServicesDep

router = APIRouter(include_in_schema=False)

MAX_TYPED = 200


@router.get("/filter/values")
async def filter_values(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    """``?name=plan&q=ent``: ``{"values": ["Enterprise", ...]}`` (at most 20)."""
    name = request.query_params.get("name", "")
    typed = request.query_params.get("q", "").strip()
    if not name or len(name) > MAX_NAME_LENGTH or "\x00" in name:
        return JSONResponse({"detail": "name: an attribute name is 1 to 255 characters"}, 400)
    if len(typed) > MAX_TYPED or "\x00" in typed:
        return JSONResponse({"detail": f"q: at most {MAX_TYPED} characters, no NUL"}, 400)

    found = await threads.read(
        services,
        frequent_values,
        organization_id=session.user.organization_id,
        name=name,
        containing=typed,
    )
    return JSONResponse({"values": found})
