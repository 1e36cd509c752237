"""REST API under /api/v2/campaigns/<id>/link/: a campaign's public link (and its QR code)
made or rotated, and taken away."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.campaigns.links import PublicLink, remove_link, set_link
from promoter.campaigns.service import NotFound
from promoter.domain.ids import MAX_INT_ID
from promoter.web.responses import JSONResponse
from promoter.web.rest import schemas
from promoter.web.rest.bodies import not_found, object_id
from promoter.web.rest.campaigns import CampaignPath
from promoter.web.rest.deps import OrgDep
from promoter.web.state import ServicesDep
from promoter.web.threads import write

router = APIRouter(prefix="/api/v2", tags=["campaigns"])


@router.post(
    "/campaigns/{campaign_id}/link/",
    summary="Make or rotate a campaign's public link",
    responses=schemas.success(schemas.PublicLink),
)
async def campaign_link_set(
    services: ServicesDep, org: OrgDep, campaign_id: CampaignPath
) -> JSONResponse:
    """Anyone with the link answers the campaign (docs/link-surveys.md). A campaign that
    has one gets a new one: the old link stops working at once."""
    number = object_id(campaign_id, MAX_INT_ID)

    def make(conn: Connection) -> str:
        try:
            campaign = set_link(
                conn, organization_id=org.id, campaign_id=number, now=datetime.now(UTC)
            )
        except NotFound:
            raise not_found() from None
        assert campaign.link_key is not None
        return campaign.link_key

    key = await write(services, make)
    return JSONResponse(PublicLink.of(services.settings.public_url, key).to_json())


@router.delete(
    "/campaigns/{campaign_id}/link/",
    summary="Take a campaign's public link away",
    status_code=204,
)
async def campaign_link_delete(
    services: ServicesDep, org: OrgDep, campaign_id: CampaignPath
) -> Response:
    """The link stops working at once (nothing happens when the campaign has none); the
    answers given through it stay."""
    number = object_id(campaign_id, MAX_INT_ID)

    def remove(conn: Connection) -> None:
        try:
            remove_link(conn, organization_id=org.id, campaign_id=number, now=datetime.now(UTC))
        except NotFound:
            raise not_found() from None

    await write(services, remove)
    return Response(status_code=204)
