"""The campaign page's "Public link": made, rotated and taken away (CSRF-checked forms)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from promoter.campaigns import service
from promoter.campaigns.links import remove_link, set_link
from promoter.domain.ids import MAX_INT_ID
from promoter.services import Services
from promoter.web.dashboard.forms import read_form
from promoter.web.dashboard.session import SessionDep, check_csrf, render, see_other, with_done
from promoter.web.state import ServicesDep
from promoter.web.threads import in_thread

router = APIRouter(include_in_schema=False)

#: What the form's button asks -> the flash shown after it.
ACTIONS = {"make": "link-made", "rotate": "link-rotated", "off": "link-removed"}


def change_link(services: Services, organization_id: int, campaign_id: int, action: str) -> bool:
    """Make, rotate or take away the campaign's link; False: no such campaign."""
    if not 0 < campaign_id <= MAX_INT_ID:
        return False
    now = datetime.now(UTC)
    with services.database.write() as conn:
        try:
            if action == "off":
                remove_link(conn, organization_id=organization_id, campaign_id=campaign_id, now=now)
            else:
                set_link(conn, organization_id=organization_id, campaign_id=campaign_id, now=now)
        except service.NotFound:
            return False
    return True


@router.post("/campaigns/{campaign_id}/link")
async def campaign_link(
    request: Request, services: ServicesDep, session: SessionDep, campaign_id: int
) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    action = form.get("action") or ""
    org = session.user.organization_id
    if action not in ACTIONS or not await in_thread(
        change_link, services, org, campaign_id, action
    ):
        return render(
            request,
            "error.html",
            session,
            status=404 if action in ACTIONS else 400,
            section="campaigns",
            heading="Not found" if action in ACTIONS else "Something is wrong with this request",
            message="There is no such campaign." if action in ACTIONS else "Unknown action.",
        )
    return see_other(with_done(f"/campaigns/{campaign_id}#link", ACTIONS[action]))
