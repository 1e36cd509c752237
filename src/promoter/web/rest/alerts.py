"""NPS alerts under /api/v2/alerts/: their history, and a check run now."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import Connection

from promoter.alerts.check import Alerting, check
from promoter.alerts.store import count_alerts, list_alerts
from promoter.domain.paging import Page
from promoter.web import threads
from promoter.web.responses import JSONResponse
from promoter.web.rest import schemas
from promoter.web.rest.deps import OrgDep, PageNumber, PageSize, paginated
from promoter.web.state import ServicesDep

router = APIRouter(prefix="/api/v2", tags=["alerts"])


class AlertScope(BaseModel):
    kind: Literal["organization", "campaign", "segment"]
    id: int | None
    name: str


class AlertWindows(BaseModel):
    before: schemas.Window
    latest: schemas.Window


class AlertInterval(BaseModel):
    """The 95% interval of the difference, in points."""

    low: float
    high: float


class Alert(BaseModel):
    id: int
    scope: AlertScope
    direction: Literal["down", "up"]
    windows: AlertWindows
    responses_before: int
    responses: int
    nps_before: float
    nps: float
    difference: float
    interval: AlertInterval
    p_value: float
    q_value: float
    checked_by: Literal["daily", "manual"]
    created_at: datetime


class AlertPage(schemas.Page[Alert]):
    pass


class AlertCheck(BaseModel):
    windows: AlertWindows
    scopes_checked: int
    alerts: list[Alert]


@router.get("/alerts/", summary="NPS alerts, newest first", responses=schemas.success(AlertPage))
async def alerts_list(
    request: Request,
    services: ServicesDep,
    org: OrgDep,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> JSONResponse:
    paging = Page(page, page_size)

    def read(conn: Connection) -> tuple[int, list[dict[str, object]]]:
        total = count_alerts(conn, organization_id=org.id)
        found = list_alerts(conn, organization_id=org.id, page=paging)
        return total, [a.to_json() for a in found]

    total, results = await threads.read(services, read)
    return JSONResponse(paginated(request, services, total, paging, results))


@router.post(
    "/alerts/check/",
    summary="Check for NPS alerts now",
    description=(
        "Compares the NPS of the organization, each campaign and each saved segment over the "
        "last 3 weeks with the 8 weeks before, and raises (and sends) the alerts not already "
        "standing. Answers the windows, how many scopes were checked and the alerts raised."
    ),
    responses=schemas.success(AlertCheck),
)
async def alerts_check(services: ServicesDep, org: OrgDep) -> JSONResponse:
    alerting = Alerting(services.database, services.analytics, services.settings.public_url)
    checked = await threads.in_thread(
        lambda: check(alerting, organization_id=org.id, now=datetime.now(UTC), checked_by="manual")
    )
    return JSONResponse(checked.to_json())
