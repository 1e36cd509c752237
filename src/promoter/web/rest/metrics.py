"""REST API under /api/v2/metrics/: Promoter's metrics, the NPS of each campaign beside the
organization's. The richer questions are answered under /api/v2/nps/."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import Connection

from promoter.analytics.metrics import Metrics, metrics
from promoter.analytics.params import zone_of
from promoter.campaigns import service
from promoter.campaigns.models import Campaign
from promoter.domain.ids import MAX_INT_ID
from promoter.domain.paging import Page
from promoter.orgs.service import Organization
from promoter.web.responses import JSONResponse
from promoter.web.rest import schemas
from promoter.web.rest.bodies import Errors, invalid, not_found
from promoter.web.rest.deps import OrgDep, PageNumber, PageSize, paginated
from promoter.web.state import ServicesDep
from promoter.web.threads import read

router = APIRouter(prefix="/api/v2", tags=["metrics"])

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGITS = re.compile(r"[0-9]{1,30}")
DAY_FORMAT = "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."
Text = Annotated[str | None, Query(max_length=40)]


def _day(text: str | None, name: str, errors: Errors) -> date | None:
    if text is None or not text.strip():
        return None
    try:
        if not _DAY.fullmatch(text.strip()):
            raise ValueError(text)
        day = date.fromisoformat(text.strip())
    except ValueError:
        errors[name] = [DAY_FORMAT]
        return None
    if not 1900 <= day.year < 9000:
        errors[name] = ["Enter a date from 1900 to 8999."]
        return None
    return day


def _campaign_param(campaign: str | None, survey_campaign: str | None, errors: Errors) -> int:
    """The campaign asked about (0: none); an id no campaign can have is -1 (not found)."""
    given = (("campaign", campaign), ("survey__campaign", survey_campaign))
    values = {name: v.strip() for name, v in given if v is not None and v.strip()}
    if len(set(values.values())) > 1:
        errors["campaign"] = ["Give campaign or survey__campaign, not both."]
        return 0
    for name, value in values.items():
        if not _DIGITS.fullmatch(value):
            errors[name] = ["A valid integer is required."]
            return 0
        number = int(value)
        return number if 1 <= number <= MAX_INT_ID else -1
    return 0


def metric_json(m: Metrics, campaign: Campaign) -> dict[str, Any]:
    summary = m.of(campaign.id)
    return {
        "campaign": campaign.id,
        "campaign_name": campaign.name,
        "nps": summary.nps,
        "organization_nps": m.organization.nps,
        "responses": summary.responses,
        "organization_responses": m.organization.responses,
        "window": m.window.to_json(),
    }


def _metrics(
    conn: Connection,
    org_id: int,
    campaign_id: int,
    days: tuple[datetime | None, datetime | None],
    page: Page,
) -> tuple[int, list[dict[str, Any]]]:
    """One page of the organization's campaigns with their metrics (only
    ``campaign_id``'s, when given)."""
    since, until = days
    if campaign_id:
        try:
            campaigns = [
                service.get_campaign(conn, organization_id=org_id, campaign_id=campaign_id)
            ]
        except service.NotFound:
            raise not_found() from None
    else:
        campaigns = service.list_campaigns(conn, organization_id=org_id)
    found = metrics(conn, organization_id=org_id, since=since, until=until, now=datetime.now(UTC))
    shown = campaigns[page.offset : page.offset + page.size]
    return len(campaigns), [metric_json(found, c) for c in shown]


def _window(
    org: Organization, first: date | None, last: date | None
) -> tuple[datetime | None, datetime | None]:
    """The local days from ``first`` to ``last``, both included, as a half-open window."""
    zone = zone_of(org.timezone)
    since = datetime.combine(first, time(), zone) if first else None
    until = datetime.combine(last + timedelta(days=1), time(), zone) if last else None
    return since, until


@router.get(
    "/metrics/",
    summary="NPS per campaign, beside the organization's",
    responses=schemas.success(schemas.MetricPage | schemas.Metric),
)
async def metrics_view(
    request: Request,
    services: ServicesDep,
    org: OrgDep,
    campaign: Text = None,
    survey__campaign: Text = None,
    posted_date_0: Text = None,
    posted_date_1: Text = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> JSONResponse:
    """Each campaign's `nps` and the `organization_nps` over one window: the local days
    `posted_date_0` to `posted_date_1` (YYYY-MM-DD, both included), by default the 30 days
    up to the latest response (as `GET /api/v2/nps/`). With `campaign` (or Promoter's
    `survey__campaign`): that campaign's metrics alone, not a list."""
    errors: Errors = {}
    campaign_id = _campaign_param(campaign, survey__campaign, errors)
    first = _day(posted_date_0, "posted_date_0", errors)
    last = _day(posted_date_1, "posted_date_1", errors)
    if first and last and last < first:
        errors["posted_date_1"] = ["Must not be before posted_date_0."]
    if errors:
        raise invalid(errors)
    if campaign_id < 0:
        raise not_found()
    paging = Page(1, 1) if campaign_id else Page(page, page_size)
    days = _window(org, first, last)
    total, results = await read(services, _metrics, org.id, campaign_id, days, paging)
    if campaign_id:
        return JSONResponse(results[0])
    return JSONResponse(paginated(request, services, total, paging, results))
